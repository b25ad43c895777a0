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

import sqlite3
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from rag.chunk.document import Chunk, Document, doc_summary
from rag.errors import RagError
from rag.files import is_no_space, no_space_error
from rag.indicators.catalog import EXTRACTOR_VERSION
from rag.search.store_read import StoreReads
from rag.search.store_rows import (
    _SCHEMA,
    FILE,
    STORE_VERSION,
    _crc,
    _digest,
    _full_disk_io_error,
    _guarded,
    _store_error,
    chunk_values,
    document_rows,
    document_values,
    indicator_values,
)
from rag.search.store_rows import chunk_int_id as chunk_int_id  # callers import it from here
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.search.store_pg import PgChunkStore


class ChunkStore(StoreReads):
    """One SQLite file of documents and chunks; safe to share between threads (one connection,
    one lock: every query is a few rows by key)."""

    def __init__(self, index_dir: Path, *, create: bool = False, replace_damaged: bool = False):
        """`replace_damaged` (with `create`): a store that fails `verify` is deleted and created
        empty, for `rag index --rebuild` (everything in it comes from the report files)."""
        self.path = index_dir / FILE
        if not create and not self.path.exists():
            raise RagError(f"no chunk store in {index_dir}; run `rag ingest` first")
        index_dir.mkdir(parents=True, exist_ok=True)
        if replace_damaged and self.path.exists():
            self._replace_if_damaged()
        try:
            self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            if create:
                self.db.executescript(_SCHEMA)
                self._add_checksum_columns()
            version = self._meta("version")
            self._crc_col = "crc" if self._has_column("chunks", "crc") else "NULL"
        except sqlite3.DatabaseError as exc:
            if is_no_space(exc) or _full_disk_io_error(self.path, exc):
                raise no_space_error(index_dir, "the chunk store") from exc
            raise RagError(f"the chunk store {self.path} cannot be read ({exc}); run `rag index --rebuild`") from exc
        if version is None and create:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(STORE_VERSION),))
        elif version != str(STORE_VERSION):
            raise RagError(
                f"the chunk store in {index_dir} has format {version}, this version reads "
                f"{STORE_VERSION}; run `rag ingest` again"
            )
        self.lock = threading.Lock()

    def _add_checksum_columns(self) -> None:
        """Stores written before rows carried a CRC get the column, filled in once."""
        self.db.create_function("rag_crc", 1, _crc, deterministic=True)
        for table in ("documents", "chunks"):
            if not self._has_column(table, "crc"):
                self.db.execute("BEGIN IMMEDIATE")
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN crc INTEGER")
                self.db.execute(f"UPDATE {table} SET crc = rag_crc(data)")
                self.db.execute("COMMIT")

    def _replace_if_damaged(self) -> None:
        try:
            probe = ChunkStore(self.path.parent)
        except RagError as exc:  # only a file SQLite calls damaged; never one it could not reach
            text = str(exc)
            damaged = "malformed" in text or "not a database" in text or "damaged" in text
        else:
            try:
                probe.verify()
                damaged = False
            except RagError:
                damaged = True
            finally:
                probe.close()
        if damaged:
            for suffix in ("", "-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)

    @property
    @_guarded
    def generation(self) -> str:
        """Changes with every write that changed something."""
        with self.lock:
            return self._meta("generation") or ""

    # --- writing ------------------------------------------------------------------------------------
    def write(self, docs: list[Document], summaries: list[dict], *, commit: bool = True) -> bool:
        """Make the store hold exactly `docs` (in this order): one transaction that rewrites only the
        documents whose content changed. Returns whether anything changed.

        With `commit=False` a change is left in an open transaction: this connection sees it, other
        readers do not, until `commit()` (an index build publishes the store and its index together;
        a process killed before that leaves the store as it was)."""
        rows = document_rows(docs, summaries)
        with self.lock:
            try:
                return self._write(rows, [d.id for d in docs], commit)
            except sqlite3.IntegrityError:  # two chunks with one id: a bug upstream, not the file
                raise
            except sqlite3.Error as exc:
                raise _store_error(self.path, exc) from exc

    def _write(self, rows: list, wanted: list[str], commit: bool) -> bool:
        have = dict(self.db.execute("SELECT id, digest FROM documents").fetchall())
        order = [r[0] for r in self.db.execute("SELECT id FROM documents ORDER BY position")]
        changed = order != wanted or any(have.get(d.id) != digest for _, d, _, _, digest, _ in rows)
        # the indicator rules changed since the rows were written: every report's are recomputed
        stale = self._meta("indicators") != str(EXTRACTOR_VERSION)
        if not changed and not stale:
            return False
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS indicators (doc TEXT NOT NULL, position INTEGER NOT NULL, "
                "data TEXT NOT NULL, PRIMARY KEY (doc, position))"
            )
            for gone in set(have) - set(wanted):
                self.db.execute("DELETE FROM chunks WHERE doc = ?", (gone,))
                self.db.execute("DELETE FROM documents WHERE id = ?", (gone,))
                self.db.execute("DELETE FROM indicators WHERE doc = ?", (gone,))
            for pos, d, summary, doc_data, digest, chunk_rows in rows:
                meta = summary.get("meta") or {}
                if have.get(d.id) == digest:
                    self.db.execute("UPDATE documents SET position = ? WHERE id = ?", (pos, d.id))
                    if stale:
                        self._write_indicators(d, meta)
                    continue
                self._write_indicators(d, meta)
                self.db.execute("DELETE FROM chunks WHERE doc = ?", (d.id,))
                self.db.execute(
                    "INSERT OR REPLACE INTO documents (id, position, place, level, year, digest, data, crc) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    document_values(pos, d, meta, digest, doc_data),
                )
                self.db.executemany(
                    "INSERT INTO chunks (iid, id, doc, position, kind, searchable, place, level, year, data, crc) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    chunk_values(d, meta, chunk_rows),
                )
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (uuid.uuid4().hex,))
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('indicators', ?)", (str(EXTRACTOR_VERSION),))
            if commit:
                self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        return True

    def _write_indicators(self, d: Document, meta: dict) -> None:
        """The headline indicators of one document, extracted from its chunks (only for a document
        that changed, or when the extraction rules did)."""
        self.db.execute("DELETE FROM indicators WHERE doc = ?", (d.id,))
        self.db.executemany("INSERT INTO indicators (doc, position, data) VALUES (?, ?, ?)", indicator_values(d, meta))

    @property
    def pending(self) -> bool:
        """Whether a `write(commit=False)` is waiting for `commit()` or `rollback()`."""
        return self.db.in_transaction

    def commit(self) -> None:
        """Make a pending write visible to every reader (nothing to do when none is pending)."""
        with self.lock:
            if self.db.in_transaction:
                try:
                    self.db.execute("COMMIT")
                except sqlite3.Error as exc:
                    raise _store_error(self.path, exc) from exc

    def rollback(self) -> None:
        """Drop a pending write: the store is as it was before it."""
        with self.lock:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")

    @_guarded
    def verify(self) -> int:
        """Check the file's structure (SQLite's quick_check) and every document against the sha256
        digest it was written with (a flipped byte inside a row passes SQLite's own checks).
        Returns the number of documents; `RagError` naming the fix when something does not match."""
        with self.lock:
            problems = [r[0] for r in self.db.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise RagError(f"the chunk store {self.path} is damaged ({problems[0]}); run `rag index --rebuild`")
            docs = self.db.execute("SELECT id, digest, data FROM documents ORDER BY position").fetchall()
            for doc_id, digest, data in docs:
                rows = [
                    r[0] for r in self.db.execute("SELECT data FROM chunks WHERE doc = ? ORDER BY position", (doc_id,))
                ]
                if _digest(data, rows) != digest:
                    raise RagError(
                        f"the chunk store {self.path} is damaged (document {doc_id} does not match its "
                        "checksum); run `rag index --rebuild`"
                    )
        return len(docs)

    def close(self) -> None:
        """Close the connection; a write still pending is dropped (SQLite rolls it back)."""
        with self.lock:
            self.db.close()


class ChunkLookup:
    """Chunks by id for the answering stage (`lookup[id]`, `lookup.get(id)`, `id in lookup`),
    read from the store on demand and kept in a small LRU (a question touches a few dozen)."""

    def __init__(self, store: ChunkStore | PgChunkStore, size: int = 4096):
        self.store, self.size = store, size
        self._cache: OrderedDict[str, Chunk | None] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, chunk: Chunk) -> None:
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

    def __getitem__(self, chunk_id: str) -> Chunk:
        c = self.get(chunk_id)
        if c is None:
            raise KeyError(chunk_id)
        return c

    def __contains__(self, chunk_id: object) -> bool:
        return isinstance(chunk_id, str) and self.get(chunk_id) is not None


# --- the whole corpus -----------------------------------------------------------------------------
def write_store(docs: list[Document], settings: Settings) -> bool:
    """Make the chunk store hold exactly `docs`: one SQLite transaction that rewrites only the
    documents whose content changed (see `rag.search.store`). Returns whether anything changed."""
    store = ChunkStore(settings.index_dir, create=True)
    try:
        changed = store.write(docs, [doc_summary(d) for d in docs])
    finally:
        store.close()
    for legacy in ("chunks.jsonl", "documents.json"):  # the store's format before SQLite
        (settings.index_dir / legacy).unlink(missing_ok=True)
    return changed


def load_store(settings: Settings) -> tuple[list[dict], list[Chunk]]:
    """Documents and every chunk (for tools that show them all, such as `rag chunks`); the
    service looks chunks up in the store instead."""
    store = ChunkStore(settings.index_dir)
    try:
        return store.documents(), list(store.iter_chunks())
    finally:
        store.close()
