"""The chunk store: every document and chunk in one SQLite file (``index/chunks.sqlite``, WAL).

The store is the contract between ingestion and everything downstream (embedding, BM25,
citations). A service looks chunks up by id when a question needs them instead of holding every
chunk as a Python object, so its start time and memory do not grow with the corpus.

Writes are diffs inside one transaction: a document whose content did not change is not
rewritten, a removed one is deleted. Readers in other connections see the store before or after
the transaction, never a mix (WAL). Every change gets a new ``generation``; an index records the
generation it was built from, so a stale index is told apart from a current one.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import uuid
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from .errors import RagError

if TYPE_CHECKING:  # the dataclasses live with ingestion; imported lazily to avoid a cycle
    from .ingest import Chunk, Document

STORE_VERSION = 2
FILE = "chunks.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, position INTEGER NOT NULL, place TEXT, level TEXT, year INTEGER,
    digest TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    iid INTEGER PRIMARY KEY,            -- chunk_int_id(id): the key the vector stores use
    id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL, position INTEGER NOT NULL, kind TEXT NOT NULL,
    searchable INTEGER NOT NULL, place TEXT, level TEXT, year INTEGER, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc, position);
CREATE INDEX IF NOT EXISTS chunks_place ON chunks (place);
CREATE INDEX IF NOT EXISTS chunks_level ON chunks (level);
CREATE INDEX IF NOT EXISTS chunks_year ON chunks (year);
"""


def chunk_int_id(chunk_id: str) -> int:
    """A stable 63-bit id from the chunk's string id (vector stores and SQLite key by it)."""
    return int.from_bytes(hashlib.sha1(chunk_id.encode("utf-8")).digest()[:8], "big") & ((1 << 63) - 1)


def _chunk(data: str) -> "Chunk":
    from .ingest import Chunk

    return Chunk(**json.loads(data))


class ChunkStore:
    """One SQLite file of documents and chunks; safe to share between threads (one connection,
    one lock: every query is a few rows by key)."""

    def __init__(self, index_dir: Path, *, create: bool = False):
        self.path = index_dir / FILE
        if not create and not self.path.exists():
            raise RagError(f"no chunk store in {index_dir}; run `rag ingest` first")
        index_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            if create:
                self.db.executescript(_SCHEMA)
            version = self._meta("version")
        except sqlite3.DatabaseError as exc:
            raise RagError(f"the chunk store {self.path} cannot be read ({exc}); run `rag ingest` again") from exc
        if version is None and create:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(STORE_VERSION),))
        elif version != str(STORE_VERSION):
            raise RagError(f"the chunk store in {index_dir} has format {version}, this version reads "
                           f"{STORE_VERSION}; run `rag ingest` again")
        self.lock = threading.Lock()

    def _meta(self, key: str) -> str | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # no meta table: not a chunk store
            return None
        return row[0] if row else None

    @property
    def generation(self) -> str:
        """Changes with every write that changed something."""
        with self.lock:
            return self._meta("generation") or ""

    # --- writing ------------------------------------------------------------------------------------
    def write(self, docs: list["Document"], summaries: list[dict]) -> bool:
        """Make the store hold exactly `docs` (in this order): one transaction that rewrites only the
        documents whose content changed. Returns whether anything changed."""
        rows = []
        for pos, (d, summary) in enumerate(zip(docs, summaries)):
            chunk_rows = [json.dumps(asdict(c), ensure_ascii=False) for c in d.chunks]
            doc_data = json.dumps(summary, ensure_ascii=False)
            digest = hashlib.sha256("\n".join([doc_data, *chunk_rows]).encode("utf-8")).hexdigest()
            rows.append((pos, d, summary, doc_data, digest, chunk_rows))
        with self.lock:
            have = dict(self.db.execute("SELECT id, digest FROM documents").fetchall())
            order = [r[0] for r in self.db.execute("SELECT id FROM documents ORDER BY position")]
            wanted = [d.id for d in docs]
            changed = order != wanted or any(have.get(d.id) != digest for _, d, _, _, digest, _ in rows)
            if not changed:
                return False
            try:
                self.db.execute("BEGIN IMMEDIATE")
                for gone in set(have) - set(wanted):
                    self.db.execute("DELETE FROM chunks WHERE doc = ?", (gone,))
                    self.db.execute("DELETE FROM documents WHERE id = ?", (gone,))
                for pos, d, summary, doc_data, digest, chunk_rows in rows:
                    meta = summary.get("meta") or {}
                    if have.get(d.id) == digest:
                        self.db.execute("UPDATE documents SET position = ? WHERE id = ?", (pos, d.id))
                        continue
                    self.db.execute("DELETE FROM chunks WHERE doc = ?", (d.id,))
                    self.db.execute("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
                                    (d.id, pos, meta.get("place") or "", meta.get("level") or "", meta.get("year"),
                                     digest, doc_data))
                    self.db.executemany(
                        "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        ((chunk_int_id(c.id), c.id, c.doc, n, c.kind, int(c.searchable), c.place,
                          meta.get("level") or "", c.year, data) for n, (c, data) in enumerate(zip(d.chunks, chunk_rows))))
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (uuid.uuid4().hex,))
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
        return True

    # --- reading ------------------------------------------------------------------------------------
    def documents(self) -> list[dict]:
        """Every document's summary (place, level, year, sections, counts …), in corpus order."""
        with self.lock:
            return [json.loads(r[0]) for r in self.db.execute("SELECT data FROM documents ORDER BY position")]

    def reports(self) -> list[tuple[str, str, str, int | None]]:
        """(id, place, level, year) of every document, from the indexed columns (no JSON to parse)."""
        with self.lock:
            return [tuple(r) for r in self.db.execute("SELECT id, place, level, year FROM documents ORDER BY position")]

    def count(self, searchable_only: bool = False) -> int:
        sql = "SELECT count(*) FROM chunks" + (" WHERE searchable = 1" if searchable_only else "")
        with self.lock:
            return int(self.db.execute(sql).fetchone()[0])

    def get(self, chunk_id: str) -> "Chunk | None":
        with self.lock:
            row = self.db.execute("SELECT data FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        return _chunk(row[0]) if row else None

    def by_int_ids(self, iids: Iterable[int]) -> dict[int, "Chunk"]:
        """Chunks by their 63-bit ids (those the store holds), in one query per 500."""
        wanted = list(dict.fromkeys(int(i) for i in iids))
        out: dict[int, Chunk] = {}
        for s in range(0, len(wanted), 500):
            part = wanted[s:s + 500]
            sql = f"SELECT iid, data FROM chunks WHERE iid IN ({','.join('?' * len(part))})"
            with self.lock:
                rows = self.db.execute(sql, part).fetchall()
            out.update((iid, _chunk(data)) for iid, data in rows)
        return out

    def iter_chunks(self, *, searchable_only: bool = False, doc: str | None = None,
                    batch: int = 2000) -> Iterator["Chunk"]:
        """Chunks in corpus order, read in batches (a build streams them instead of loading all)."""
        where = ["1 = 1"]
        args: list = []
        if searchable_only:
            where.append("c.searchable = 1")
        if doc is not None:
            where.append("c.doc = ?")
            args.append(doc)
        sql = (f"SELECT c.data FROM chunks c JOIN documents d ON d.id = c.doc WHERE {' AND '.join(where)} "
               "ORDER BY d.position, c.position")
        with self.lock:
            cursor = self.db.cursor()
            cursor.execute(sql, args)
            cursor.arraysize = batch
        while True:
            with self.lock:
                rows = cursor.fetchmany()
            if not rows:
                return
            for (data,) in rows:
                yield _chunk(data)

    def ids_where(self, *, docs: Iterable[str] = (), places: Iterable[str] = (), levels: Iterable[str] = (),
                  years: Iterable[int] = (), searchable_only: bool = True) -> list[str]:
        """Ids of the chunks of these documents, places, levels and years (an empty field does not
        limit), in corpus order."""
        where, args = [], []
        for field, values in (("doc", docs), ("place", places), ("level", levels), ("year", years)):
            values = list(values)
            if values:
                where.append(f"c.{field} IN ({','.join('?' * len(values))})")
                args += values
        if searchable_only:
            where.append("c.searchable = 1")
        sql = ("SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc"
               + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY d.position, c.position")
        with self.lock:
            return [r[0] for r in self.db.execute(sql, args)]

    def close(self) -> None:
        with self.lock:
            self.db.close()


class ChunkLookup:
    """Chunks by id for the answering stage (`lookup[id]`, `lookup.get(id)`, `id in lookup`),
    read from the store on demand and kept in a small LRU (a question touches a few dozen)."""

    def __init__(self, store: ChunkStore, size: int = 4096):
        self.store, self.size = store, size
        self._cache: OrderedDict[str, Chunk | None] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, chunk: "Chunk") -> None:
        with self._lock:
            self._cache[chunk.id] = chunk
            self._cache.move_to_end(chunk.id)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)

    def get(self, chunk_id: str, default=None):
        with self._lock:
            if chunk_id in self._cache:
                self._cache.move_to_end(chunk_id)
                hit = self._cache[chunk_id]
                return default if hit is None else hit
        c = self.store.get(chunk_id)
        if c is not None:
            self.put(c)
        return default if c is None else c

    def __getitem__(self, chunk_id: str) -> "Chunk":
        c = self.get(chunk_id)
        if c is None:
            raise KeyError(chunk_id)
        return c

    def __contains__(self, chunk_id: object) -> bool:
        return isinstance(chunk_id, str) and self.get(chunk_id) is not None
