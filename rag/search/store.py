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
import shutil
import sqlite3
import threading
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from functools import wraps
from pathlib import Path
from typing import TypeVar

from rag.errors import RagError
from rag.files import is_no_space, no_space_error
from rag.indicators.catalog import EXTRACTOR_VERSION
from rag.ingest import Chunk, Document, doc_summary
from rag.settings import Settings

STORE_VERSION = 2
FILE = "chunks.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, position INTEGER NOT NULL, place TEXT, level TEXT, year INTEGER,
    digest TEXT NOT NULL, data TEXT NOT NULL, crc INTEGER);
CREATE TABLE IF NOT EXISTS chunks (
    iid INTEGER PRIMARY KEY,            -- chunk_int_id(id): the key the vector stores use
    id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL, position INTEGER NOT NULL, kind TEXT NOT NULL,
    searchable INTEGER NOT NULL, place TEXT, level TEXT, year INTEGER, data TEXT NOT NULL, crc INTEGER);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc, position);
CREATE INDEX IF NOT EXISTS chunks_place ON chunks (place);
CREATE INDEX IF NOT EXISTS chunks_level ON chunks (level);
CREATE INDEX IF NOT EXISTS chunks_year ON chunks (year);
CREATE TABLE IF NOT EXISTS indicators (       -- headline indicators of each document (rag/indicators)
    doc TEXT NOT NULL, position INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (doc, position));
"""


def chunk_int_id(chunk_id: str) -> int:
    """A stable 63-bit id from the chunk's string id (vector stores and SQLite key by it)."""
    return int.from_bytes(hashlib.sha1(chunk_id.encode("utf-8")).digest()[:8], "big") & ((1 << 63) - 1)


T = TypeVar("T")


def _store_error(path: Path, exc: sqlite3.Error) -> RagError:
    """A SQLite failure as the error a user can act on: full disk, busy, or a damaged file."""
    text = str(exc)
    if is_no_space(exc) or _full_disk_io_error(path, exc):
        return no_space_error(path.parent, "the chunk store")
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return RagError(f"the chunk store {path} is busy (another process is writing it); try again")
    return RagError(f"the chunk store {path} is damaged ({text}); run `rag index --rebuild`")


def _full_disk_io_error(path: Path, exc: BaseException) -> bool:
    """SQLite reports a full disk as a plain "disk I/O error" when it cannot grow its shared-memory
    or WAL file; told apart from a failing disk by the room left."""
    if "disk I/O error" not in str(exc):
        return False
    try:
        return shutil.disk_usage(path.parent).free < (1 << 20)
    except OSError:
        return False


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """SQLite errors of a store method become a `RagError` naming the fix (never a traceback)."""

    @wraps(method)
    def run(self: ChunkStore, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from exc

    return run


def _digest(doc_data: str, chunk_rows: list[str]) -> str:
    """The sha256 a document row carries: over its summary and its chunks' rows, in order."""
    return hashlib.sha256("\n".join([doc_data, *chunk_rows]).encode("utf-8")).hexdigest()


def _crc(data: str) -> int:
    """The CRC-32 a row carries over its JSON: checked on every read (microseconds for a chunk), so
    a damaged row is reported instead of cited."""
    return zlib.crc32(data.encode("utf-8"))


def _checked(data: str, crc: int | None) -> str:
    """The row's JSON when it matches its CRC (a row written before the stores kept one: unchecked)."""
    if crc is not None and _crc(data) != crc:
        raise sqlite3.DatabaseError("a row does not match its checksum")
    return data


def _json(data: str):
    try:
        return json.loads(data)
    except ValueError as exc:
        raise sqlite3.DatabaseError(f"a row cannot be read: {exc}") from exc


def _chunk(data: str) -> Chunk:
    try:
        return Chunk(**json.loads(data))
    except (ValueError, TypeError) as exc:  # a damaged row: reported like SQLite's own damage
        raise sqlite3.DatabaseError(f"a chunk row cannot be read: {exc}") from exc


class ChunkStore:
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

    def _has_column(self, table: str, column: str) -> bool:
        return any(r[1] == column for r in self.db.execute(f"PRAGMA table_info({table})"))

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

    def _meta(self, key: str) -> str | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # no meta table: not a chunk store
            return None
        return row[0] if row else None

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
        rows = []
        for pos, (d, summary) in enumerate(zip(docs, summaries)):
            chunk_rows = [json.dumps(asdict(c), ensure_ascii=False) for c in d.chunks]
            doc_data = json.dumps(summary, ensure_ascii=False)
            rows.append((pos, d, summary, doc_data, _digest(doc_data, chunk_rows), chunk_rows))
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
                    (
                        d.id,
                        pos,
                        meta.get("place") or "",
                        meta.get("level") or "",
                        meta.get("year"),
                        digest,
                        doc_data,
                        _crc(doc_data),
                    ),
                )
                self.db.executemany(
                    "INSERT INTO chunks (iid, id, doc, position, kind, searchable, place, level, year, data, crc) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        (
                            chunk_int_id(c.id),
                            c.id,
                            c.doc,
                            n,
                            c.kind,
                            int(c.searchable),
                            c.place,
                            meta.get("level") or "",
                            c.year,
                            data,
                            _crc(data),
                        )
                        for n, (c, data) in enumerate(zip(d.chunks, chunk_rows))
                    ),
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
        from rag.indicators.extract import extract

        self.db.execute("DELETE FROM indicators WHERE doc = ?", (d.id,))
        self.db.executemany(
            "INSERT INTO indicators (doc, position, data) VALUES (?, ?, ?)",
            (
                (d.id, n, json.dumps(r.to_dict(), ensure_ascii=False))
                for n, r in enumerate(extract(d.chunks, meta.get("level") or ""))
            ),
        )

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

    # --- reading ------------------------------------------------------------------------------------
    @_guarded
    def documents(self) -> list[dict]:
        """Every document's summary (place, level, year, sections, counts …), in corpus order."""
        with self.lock:
            rows = self.db.execute(f"SELECT data, {self._crc_col} FROM documents ORDER BY position").fetchall()
        return [_json(_checked(data, crc)) for data, crc in rows]

    @_guarded
    def reports(self) -> list[tuple[str, str, str, int | None]]:
        """(id, place, level, year) of every document, from the indexed columns (no JSON to parse)."""
        with self.lock:
            return [tuple(r) for r in self.db.execute("SELECT id, place, level, year FROM documents ORDER BY position")]

    @_guarded
    def indicators(self, docs: Iterable[str] = ()) -> list[dict] | None:
        """The stored indicator rows (of `docs`, or all), in corpus order; None when the store holds
        none of the current extraction rules (a store written before them: extract on the fly)."""
        with self.lock:
            if not self._has_column("indicators", "doc") or self._meta("indicators") != str(EXTRACTOR_VERSION):
                return None
            rows = self.db.execute(
                "SELECT i.doc, i.data FROM indicators i JOIN documents d ON d.id = i.doc "
                "ORDER BY d.position, i.position"
            ).fetchall()
        wanted = set(docs)
        return [json.loads(data) for doc, data in rows if not wanted or doc in wanted]

    @_guarded
    def count(self, searchable_only: bool = False) -> int:
        sql = "SELECT count(*) FROM chunks" + (" WHERE searchable = 1" if searchable_only else "")
        with self.lock:
            return int(self.db.execute(sql).fetchone()[0])

    @_guarded
    def get(self, chunk_id: str) -> Chunk | None:
        with self.lock:
            row = self.db.execute(f"SELECT data, {self._crc_col} FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        return _chunk(_checked(*row)) if row else None

    @_guarded
    def by_int_ids(self, iids: Iterable[int]) -> dict[int, Chunk]:
        """Chunks by their 63-bit ids (those the store holds), in one query per 500."""
        wanted = list(dict.fromkeys(int(i) for i in iids))
        out: dict[int, Chunk] = {}
        for s in range(0, len(wanted), 500):
            part = wanted[s : s + 500]
            sql = f"SELECT iid, data, {self._crc_col} FROM chunks WHERE iid IN ({','.join('?' * len(part))})"
            with self.lock:
                rows = self.db.execute(sql, part).fetchall()
            out.update((iid, _chunk(_checked(data, crc))) for iid, data, crc in rows)
        return out

    def iter_chunks(
        self, *, searchable_only: bool = False, doc: str | None = None, batch: int = 2000
    ) -> Iterator[Chunk]:
        """Chunks in corpus order, read in batches (a build streams them instead of loading all)."""
        where = ["1 = 1"]
        args: list = []
        if searchable_only:
            where.append("c.searchable = 1")
        if doc is not None:
            where.append("c.doc = ?")
            args.append(doc)
        crc = "c.crc" if self._crc_col == "crc" else "NULL"
        sql = (
            f"SELECT c.data, {crc} FROM chunks c JOIN documents d ON d.id = c.doc WHERE {' AND '.join(where)} "
            "ORDER BY d.position, c.position"
        )
        try:
            with self.lock:
                cursor = self.db.cursor()
                cursor.execute(sql, args)
                cursor.arraysize = batch
            while True:
                with self.lock:
                    rows = cursor.fetchmany()
                if not rows:
                    return
                for data, row_crc in rows:
                    yield _chunk(_checked(data, row_crc))
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from exc

    @_guarded
    def ids_where(
        self,
        *,
        docs: Iterable[str] = (),
        places: Iterable[str] = (),
        levels: Iterable[str] = (),
        years: Iterable[int] = (),
        searchable_only: bool = True,
    ) -> list[str]:
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
        sql = (
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY d.position, c.position"
        )
        with self.lock:
            return [r[0] for r in self.db.execute(sql, args)]

    @_guarded
    def int_ids_of(self, docs: Iterable[str]) -> list[int]:
        """The 63-bit ids of the searchable chunks of these documents (a scope's BM25 mask)."""
        docs = list(docs)
        if not docs:
            return []
        sql = f"SELECT iid FROM chunks WHERE searchable = 1 AND doc IN ({','.join('?' * len(docs))})"
        with self.lock:
            return [r[0] for r in self.db.execute(sql, docs)]

    def close(self) -> None:
        """Close the connection; a write still pending is dropped (SQLite rolls it back)."""
        with self.lock:
            self.db.close()


class ChunkLookup:
    """Chunks by id for the answering stage (`lookup[id]`, `lookup.get(id)`, `id in lookup`),
    read from the store on demand and kept in a small LRU (a question touches a few dozen)."""

    def __init__(self, store: ChunkStore, size: int = 4096):
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
