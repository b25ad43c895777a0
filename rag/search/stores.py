"""Which chunk store a service uses: the SQLite file in its index folder, or the PostgreSQL database
that replicas share (`settings.store.url`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rag.errors import RagError
from rag.search.store import ChunkStore
from rag.settings import Settings

if TYPE_CHECKING:  # psycopg is imported only when a PostgreSQL store is opened
    from rag.search.store_pg import PgChunkStore

# either store, for annotations (`from __future__ import annotations` keeps them unevaluated)
AnyChunkStore: TypeAlias = "ChunkStore | PgChunkStore"


def open_chunk_store(settings: Settings, *, create: bool = False, replace_damaged: bool = False) -> AnyChunkStore:
    """The store the settings name: an empty URL is ``<index_dir>/chunks.sqlite``; a
    ``postgresql://`` (or ``postgres://``) URL a shared database. Both take `create` and
    `replace_damaged` with the same meaning (see `ChunkStore`)."""
    url = settings.store.url.strip()
    if not url:
        return ChunkStore(settings.index_dir, create=create, replace_damaged=replace_damaged)
    if urlsplit(url).scheme in ("postgresql", "postgres"):
        from rag.search.store_pg import PgChunkStore

        return PgChunkStore(url, create=create, replace_damaged=replace_damaged)
    raise RagError(
        f"RAG_STORE__URL {safe_url(url)} is not a store this version knows: leave it empty (the SQLite file "
        "in the index folder) or give a postgresql://user:password@host:port/db URL"
    )


def safe_url(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostport = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{hostport}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
