"""The chunk store in a PostgreSQL database, for a library that several service replicas share
(``RAG_STORE__URL=postgresql://user:password@host:port/db``).

Same interface and semantics as the SQLite store (`rag.search.store.ChunkStore`): the same rows
(built by `rag.search.store_rows`), read back in the same order as the same `Chunk` objects; writes
are diffs in one transaction, a new `generation` on every write that changed something, and
`write(commit=False)` leaves the change pending until `commit()`. Readers on other connections see
the store before or after a transaction, never a mix.

What replicas share besides the chunks lives here too: small named values (`meta_get`/`meta_set`),
the uploaded originals (`put_upload`, `uploads`, `upload_data`, `drop_upload`), and a lock that
serialises library changes between processes (`writer_lock`). `begin()` opens the pending
transaction explicitly, so that an upload's row, the chunks and the index manifest commit together.

A lost or refused connection is `Unavailable` with a one-line reason naming the database (never
its password); the next call connects again. A change pending on a lost connection is gone: the
next call says so instead of pretending to commit it.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg import errors as pg_errors

from rag.chunk.document import Chunk, Document
from rag.errors import DocumentNotFound, RagError, Unavailable
from rag.indicators.catalog import EXTRACTOR_VERSION
from rag.search.store_rows import (
    STORE_VERSION,
    RowDamaged,
    _checked,
    _chunk,
    _digest,
    _json,
    chunk_int_id,
    chunk_values,
    document_rows,
    document_values,
    indicator_values,
)
from rag.search.stores import safe_url

# TEXT keys compared byte-wise (COLLATE "C"), as SQLite compares them, so that ordering by them
# gives the same rows in the same order whatever the database's locale.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT COLLATE "C" PRIMARY KEY, position INTEGER NOT NULL, place TEXT, level TEXT, year INTEGER,
    digest TEXT NOT NULL, data TEXT NOT NULL, crc BIGINT);
CREATE TABLE IF NOT EXISTS chunks (
    iid BIGINT PRIMARY KEY,             -- chunk_int_id(id): the key the vector stores use
    id TEXT COLLATE "C" NOT NULL UNIQUE, doc TEXT COLLATE "C" NOT NULL, position INTEGER NOT NULL,
    kind TEXT NOT NULL, searchable INTEGER NOT NULL, place TEXT, level TEXT, year INTEGER,
    data TEXT NOT NULL, crc BIGINT);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc, position);
CREATE INDEX IF NOT EXISTS chunks_doc_searchable ON chunks (doc, searchable, iid);  -- a scope's ids, from the index alone
CREATE INDEX IF NOT EXISTS chunks_place ON chunks (place);
CREATE INDEX IF NOT EXISTS chunks_level ON chunks (level);
CREATE INDEX IF NOT EXISTS chunks_year ON chunks (year);
CREATE TABLE IF NOT EXISTS indicators (       -- headline indicators of each document (rag/indicators)
    doc TEXT COLLATE "C" NOT NULL, position INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (doc, position));
CREATE TABLE IF NOT EXISTS uploads (          -- the uploaded originals, in upload order
    id TEXT COLLATE "C" PRIMARY KEY, seq BIGINT GENERATED ALWAYS AS IDENTITY, suffix TEXT NOT NULL,
    info TEXT NOT NULL, data BYTEA NOT NULL);
"""

# the store's own meta rows: `meta_set` refuses them
_RESERVED = frozenset({"version", "generation", "indicators"})
# advisory lock keys (per database): schema creation, one store writer at a time, library changes
_SCHEMA_KEY = chunk_int_id("rag:store:schema")
_WRITE_KEY = chunk_int_id("rag:store:write")
_LIBRARY_KEY = chunk_int_id("rag:library:writer")
_BATCH = 500  # the SQLite store's look-up batch: by_int_ids returns its rows in the same order

T = TypeVar("T")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _scalar(db: psycopg.Connection, sql: str, args: tuple = ()):
    """The one value a one-row query returns."""
    row = db.execute(sql, args).fetchone()
    assert row is not None
    return row[0]


def _pg_guarded(method: Callable[..., T]) -> Callable[..., T]:
    """PostgreSQL failures and damaged rows of a store method become a one-line `RagError`."""

    @wraps(method)
    def run(self: PgChunkStore, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (psycopg.Error, RowDamaged) as exc:
            if isinstance(exc, psycopg.IntegrityError):  # two chunks with one id: a bug upstream
                raise
            raise self._error(exc) from exc

    return run


class PgChunkStore:
    """Documents, chunks, indicators, uploads and named values in one PostgreSQL database; safe to
    share between threads (one connection, one lock), and between processes (transactions, and
    `writer_lock` for whole library changes)."""

    def __init__(self, url: str, *, create: bool = False, replace_damaged: bool = False, connect_timeout: float = 5.0):
        """`create`: make the tables when missing (idempotent, safe from several processes at once).
        `replace_damaged` (with `create`): documents and chunks that fail `verify` are all deleted,
        for `rag index --rebuild` (they come from the report files; uploads and named values stay)."""
        if urlsplit(url).scheme not in ("postgresql", "postgres"):
            raise RagError(f"not a PostgreSQL URL: {safe_url(url)} (postgresql://user:password@host:port/db)")
        self._dsn, self.url = url, safe_url(url)
        self.connect_timeout = connect_timeout
        self.lock = threading.RLock()
        self._in_txn = False  # a transaction of ours is open on `db` (`pending`)
        self.db: psycopg.Connection | None = None
        try:
            self._open(create)
            if replace_damaged and create and self._first_damaged() is not None:
                self._clear()
        except (psycopg.Error, RowDamaged) as exc:
            self.close()
            raise self._error(exc) from exc
        except BaseException:
            self.close()
            raise

    def _open(self, create: bool) -> None:
        db = self._conn()
        if create:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_KEY,))
                db.execute(_SCHEMA)
                db.execute(
                    "INSERT INTO meta VALUES ('version', %s) ON CONFLICT (key) DO NOTHING", (str(STORE_VERSION),)
                )
        if _scalar(db, "SELECT to_regclass('meta')") is None:
            raise RagError(f"no chunk store at {self.url}; run `rag ingest` first")
        version = self._meta("version")
        if version != str(STORE_VERSION):
            raise RagError(
                f"the chunk store at {self.url} has format {version}, this version reads {STORE_VERSION}; "
                "run `rag ingest` again"
            )

    # --- the connection --------------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        """A new connection (autocommit: a transaction is opened explicitly); never a hang when the
        server is down or unreachable (connect_timeout, TCP keepalives)."""
        try:
            db = psycopg.connect(
                self._dsn,
                autocommit=True,
                connect_timeout=max(2, round(self.connect_timeout)),
                application_name="rag",
                keepalives=1,
                keepalives_idle=30,
                keepalives_interval=10,
                keepalives_count=3,
            )
            db.execute("SELECT set_config('lock_timeout', '30s', false)")  # a busy writer: an error, not a wait
        except psycopg.OperationalError as exc:
            raise Unavailable(f"the chunk store at {self.url} cannot be reached ({_one_line(exc)})") from exc
        return db

    def _conn(self) -> psycopg.Connection:
        """The store's connection, connected again after a failure; a transaction that was pending on
        a lost connection is reported once (its change is gone) instead of silently forgotten."""
        if self.db is not None and not self.db.closed and not self.db.broken:
            return self.db
        if self.db is not None:
            self.db.close()
            self.db = None
        if self._in_txn:
            self._in_txn = False
            raise Unavailable(
                f"the connection to the chunk store at {self.url} was lost with a change pending (it was "
                "dropped); try again"
            )
        self.db = self._connect()
        return self.db

    def _error(self, exc: BaseException) -> RagError:
        """A failure as the one-line error a user can act on."""
        if isinstance(exc, RowDamaged):
            return Unavailable(f"the chunk store at {self.url} is damaged ({exc}); run `rag index --rebuild`")
        if isinstance(exc, pg_errors.LockNotAvailable):
            return Unavailable(f"the chunk store at {self.url} is busy (another process is writing it); try again")
        if isinstance(exc, psycopg.OperationalError) and (self.db is None or self.db.closed or self.db.broken):
            return Unavailable(f"the chunk store at {self.url} cannot be reached ({_one_line(exc)})")
        return Unavailable(f"the chunk store at {self.url} failed ({_one_line(exc)})")

    def _meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self._conn().execute(
            "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (key, value)
        )

    @property
    @_pg_guarded
    def generation(self) -> str:
        """Changes with every write that changed something. One tiny SELECT by primary key: cheap
        enough for every replica to poll each second to follow the others' changes."""
        with self.lock:
            return self._meta("generation") or ""

    # --- transactions --------------------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        """Whether a change waits for `commit()` or `rollback()` (after `write(commit=False)` or `begin()`)."""
        return self._in_txn

    @_pg_guarded
    def begin(self) -> None:
        """Open the pending transaction (or join the one open): the writes, uploads and named values
        that follow commit together at `commit()`. Waits up to 30 s for another process's pending
        change (`Unavailable` "busy" after that)."""
        with self.lock:
            if not self._in_txn:
                self._begin(self._conn())

    def _begin(self, db: psycopg.Connection) -> None:
        db.execute("BEGIN")
        self._in_txn = True
        try:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_KEY,))  # one writer at a time, like SQLite's
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        """Roll the open transaction back after a failure inside it (nothing in it could commit)."""
        self._in_txn = False
        if self.db is not None and not self.db.closed and not self.db.broken:
            try:
                self.db.execute("ROLLBACK")
            except psycopg.Error:
                pass

    @_pg_guarded
    def commit(self) -> None:
        """Make the pending change visible to every reader (nothing to do when none is pending)."""
        with self.lock:
            if not self._in_txn:
                return
            db = self._conn()
            try:
                db.execute("COMMIT")
            except psycopg.OperationalError as exc:
                if not (db.closed or db.broken):
                    raise
                raise Unavailable(
                    f"the connection to the chunk store at {self.url} was lost with a change pending "
                    f"({_one_line(exc)}); try again"
                ) from exc
            finally:
                self._in_txn = False

    def rollback(self) -> None:
        """Drop the pending change: the store is as it was before it."""
        with self.lock:
            if self._in_txn:
                self._abort()

    @contextmanager
    def _joined(self) -> Iterator[psycopg.Connection]:
        """The connection for one change: inside the pending transaction when one is open (rolled
        back whole if the change fails), else on its own (committed at once)."""
        db = self._conn()
        try:
            yield db
        except BaseException:
            if self._in_txn:
                self._abort()
            raise

    # --- writing ---------------------------------------------------------------------------------------
    def write(self, docs: list[Document], summaries: list[dict], *, commit: bool = True) -> bool:
        """Make the store hold exactly `docs` (in this order): one transaction that rewrites only the
        documents whose content changed. Returns whether anything changed.

        With `commit=False` the change is left pending: this store sees it, other connections do not,
        until `commit()`. Inside a transaction already open (`begin()`, an earlier uncommitted write)
        the write joins it and leaves it open, whatever `commit` says: whoever opened it commits. A
        write that fails rolls back the whole transaction (nothing in it could commit any more)."""
        rows = document_rows(docs, summaries)
        with self.lock:
            try:
                return self._write(rows, [d.id for d in docs], commit)
            except psycopg.IntegrityError:  # two chunks with one id: a bug upstream, not the database
                raise
            except (psycopg.Error, RowDamaged) as exc:
                raise self._error(exc) from exc

    def _write(self, rows: list, wanted: list[str], commit: bool) -> bool:
        db = self._conn()
        joined = self._in_txn
        if not joined and not self._differs(db, rows, wanted)[0]:  # nothing to do: no transaction, no wait
            return False
        if not joined:
            self._begin(db)
        try:
            # read again under the write lock: another process may have written since
            differs, have, stale = self._differs(db, rows, wanted)
            if not differs:
                if not joined:
                    self._abort()
                return False
            gone = sorted(set(have) - set(wanted))
            if gone:
                for table, column in (("chunks", "doc"), ("documents", "id"), ("indicators", "doc")):
                    db.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s::text[])", (gone,))
            kept, changed = [], []
            for pos, d, summary, doc_data, digest, chunk_rows in rows:
                meta = summary.get("meta") or {}
                if have.get(d.id) == digest:
                    kept.append((pos, d.id))
                    if stale:
                        self._write_indicators(db, d, meta)
                    continue
                self._write_indicators(db, d, meta)
                changed.append((pos, d, meta, digest, doc_data, chunk_rows))
            with db.cursor() as cur:
                if kept:
                    cur.executemany("UPDATE documents SET position = %s WHERE id = %s", kept)
                if changed:
                    cur.execute("DELETE FROM chunks WHERE doc = ANY(%s::text[])", ([c[1].id for c in changed],))
                    cur.executemany(
                        "INSERT INTO documents (id, position, place, level, year, digest, data, crc) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                        "position = EXCLUDED.position, place = EXCLUDED.place, level = EXCLUDED.level, "
                        "year = EXCLUDED.year, digest = EXCLUDED.digest, data = EXCLUDED.data, crc = EXCLUDED.crc",
                        [
                            document_values(pos, d, meta, digest, doc_data)
                            for pos, d, meta, digest, doc_data, _ in changed
                        ],
                    )
                    with cur.copy(
                        "COPY chunks (iid, id, doc, position, kind, searchable, place, level, year, data, crc) "
                        "FROM STDIN"
                    ) as copy:
                        for _, d, meta, _, _, chunk_rows in changed:
                            for values in chunk_values(d, meta, chunk_rows):
                                copy.write_row(values)
            self._set_meta("generation", uuid.uuid4().hex)
            self._set_meta("indicators", str(EXTRACTOR_VERSION))
            if commit and not joined:
                db.execute("COMMIT")
                self._in_txn = False
        except BaseException:
            self._abort()
            raise
        return True

    def _differs(self, db: psycopg.Connection, rows: list, wanted: list[str]) -> tuple[bool, dict[str, str], bool]:
        """Whether writing `rows` changes anything (a document added, removed, moved or changed, or
        indicators of older extraction rules to recompute); the stored digests by id; whether the
        indicators are stale. The documents are read in one statement: one state, never a mix."""
        stored = db.execute("SELECT id, digest FROM documents ORDER BY position").fetchall()
        have: dict[str, str] = dict(stored)
        stale = self._meta("indicators") != str(EXTRACTOR_VERSION)
        changed = [r[0] for r in stored] != wanted or any(have.get(d.id) != digest for _, d, _, _, digest, _ in rows)
        return changed or stale, have, stale

    def _write_indicators(self, db: psycopg.Connection, d: Document, meta: dict) -> None:
        db.execute("DELETE FROM indicators WHERE doc = %s", (d.id,))
        with db.cursor() as cur:
            cur.executemany(
                "INSERT INTO indicators (doc, position, data) VALUES (%s, %s, %s)", indicator_values(d, meta)
            )

    # --- what the replicas share besides the chunks ------------------------------------------------------
    @_pg_guarded
    def meta_get(self, key: str) -> str | None:
        """A named value (None when never set); sees this store's pending change."""
        with self.lock:
            return self._meta(key)

    @_pg_guarded
    def meta_set(self, key: str, value: str) -> None:
        """Set a named value: part of the pending transaction if one is open, else committed at once.
        Does not change `generation`."""
        if key in _RESERVED:
            raise ValueError(f"{key!r} is the chunk store's own meta row")
        with self.lock, self._joined():
            self._set_meta(key, value)

    @_pg_guarded
    def put_upload(self, doc_id: str, suffix: str, data: bytes, info: dict) -> None:
        """Keep an uploaded original (replacing one with the same id): part of the pending
        transaction if one is open, else committed at once."""
        with self.lock, self._joined() as db:
            db.execute(
                "INSERT INTO uploads (id, suffix, info, data) VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE "
                "SET suffix = EXCLUDED.suffix, info = EXCLUDED.info, data = EXCLUDED.data",
                (doc_id, suffix, json.dumps(info, ensure_ascii=False), data),
            )

    @_pg_guarded
    def drop_upload(self, doc_id: str) -> None:
        """Forget an uploaded original (nothing to do when there is none): part of the pending
        transaction if one is open, else committed at once."""
        with self.lock, self._joined() as db:
            db.execute("DELETE FROM uploads WHERE id = %s", (doc_id,))

    @_pg_guarded
    def uploads(self) -> dict[str, dict]:
        """Uploaded originals by id, in upload order: the info they were put with, and their `suffix`."""
        with self.lock:
            rows = self._conn().execute("SELECT id, suffix, info FROM uploads ORDER BY seq").fetchall()
        return {doc_id: {**json.loads(info), "suffix": suffix} for doc_id, suffix, info in rows}

    @_pg_guarded
    def upload_data(self, doc_id: str) -> bytes:
        """The bytes of an uploaded original (`DocumentNotFound` when there is none)."""
        with self.lock:
            row = self._conn().execute("SELECT data FROM uploads WHERE id = %s", (doc_id,)).fetchone()
        if row is None:
            raise DocumentNotFound(f"no uploaded document '{doc_id}'")
        return bytes(row[0])

    @contextmanager
    def writer_lock(self, timeout: float = 30.0) -> Iterator[None]:
        """Hold the library's writer lock: one process at a time changes the library (uploads,
        removals, rebuilds), whichever replica it runs in. A PostgreSQL advisory lock held on a
        connection of its own, so a process that dies releases it with its connection. Waits up to
        `timeout` seconds (0: does not wait), then `Unavailable`."""
        db = self._connect()
        try:
            if timeout > 0:
                db.execute("SELECT set_config('lock_timeout', %s, false)", (f"{max(1, round(timeout * 1000))}ms",))
                try:
                    db.execute("SELECT pg_advisory_lock(%s)", (_LIBRARY_KEY,))
                    got = True
                except pg_errors.LockNotAvailable:
                    got = False
            else:
                got = bool(_scalar(db, "SELECT pg_try_advisory_lock(%s)", (_LIBRARY_KEY,)))
            if not got:
                raise Unavailable(
                    f"another process is changing the library at {self.url} (waited {timeout:g} s for its "
                    "writer lock); try again"
                )
        except psycopg.Error as exc:
            db.close()
            raise self._error(exc) from exc
        except BaseException:
            db.close()
            raise
        try:
            yield
        finally:
            db.close()  # the session's end releases the lock (an unlock first would add nothing)

    # --- reading ------------------------------------------------------------------------------------------
    @_pg_guarded
    def documents(self) -> list[dict]:
        """Every document's summary (place, level, year, sections, counts …), in corpus order."""
        with self.lock:
            rows = self._conn().execute("SELECT data, crc FROM documents ORDER BY position").fetchall()
        return [_json(_checked(data, crc)) for data, crc in rows]

    @_pg_guarded
    def reports(self) -> list[tuple[str, str, str, int | None]]:
        """(id, place, level, year) of every document, from the indexed columns (no JSON to parse)."""
        with self.lock:
            rows = self._conn().execute("SELECT id, place, level, year FROM documents ORDER BY position").fetchall()
        return [tuple(r) for r in rows]

    @_pg_guarded
    def indicators(self, docs: Iterable[str] = ()) -> list[dict] | None:
        """The stored indicator rows (of `docs`, or all), in corpus order; None when the store holds
        none of the current extraction rules."""
        with self.lock:
            if self._meta("indicators") != str(EXTRACTOR_VERSION):
                return None
            rows = (
                self._conn()
                .execute(
                    "SELECT i.doc, i.data FROM indicators i JOIN documents d ON d.id = i.doc "
                    "ORDER BY d.position, i.position"
                )
                .fetchall()
            )
        wanted = set(docs)
        return [json.loads(data) for doc, data in rows if not wanted or doc in wanted]

    @_pg_guarded
    def count(self, searchable_only: bool = False) -> int:
        sql = "SELECT count(*) FROM chunks" + (" WHERE searchable = 1" if searchable_only else "")
        with self.lock:
            return int(_scalar(self._conn(), sql))

    @_pg_guarded
    def get(self, chunk_id: str) -> Chunk | None:
        with self.lock:
            row = self._conn().execute("SELECT data, crc FROM chunks WHERE id = %s", (chunk_id,)).fetchone()
        return _chunk(_checked(*row)) if row else None

    @_pg_guarded
    def by_int_ids(self, iids: Iterable[int]) -> dict[int, Chunk]:
        """Chunks by their 63-bit ids (those the store holds), in one query. Ordered as the SQLite
        store returns them: by id within each run of 500 asked for."""
        wanted = list(dict.fromkeys(int(i) for i in iids))
        if not wanted:
            return {}
        with self.lock:
            rows = self._conn().execute("SELECT iid, data, crc FROM chunks WHERE iid = ANY(%s::bigint[])", (wanted,))
            found = {iid: (data, crc) for iid, data, crc in rows}
        out: dict[int, Chunk] = {}
        for s in range(0, len(wanted), _BATCH):
            for iid in sorted(i for i in wanted[s : s + _BATCH] if i in found):
                out[iid] = _chunk(_checked(*found[iid]))
        return out

    def iter_chunks(
        self, *, searchable_only: bool = False, doc: str | None = None, batch: int = 2000
    ) -> Iterator[Chunk]:
        """Chunks in corpus order, read in batches from one snapshot (a build streams them instead of
        loading all): this store's pending change when one is open, else the committed store as it
        was when the iteration began (on a connection of its own, so the lock is not held between batches)."""
        where, args = ["1 = 1"], []
        if searchable_only:
            where.append("c.searchable = 1")
        if doc is not None:
            where.append("c.doc = %s")
            args.append(doc)
        sql = (
            "SELECT d.position, c.position, c.data, c.crc FROM chunks c JOIN documents d ON d.id = c.doc "
            f"WHERE {' AND '.join(where)} AND (d.position, c.position) > (%s, %s) "
            "ORDER BY d.position, c.position LIMIT %s"
        )
        snapshot: psycopg.Connection | None = None
        try:
            with self.lock:
                if not self._in_txn:
                    snapshot = self._connect()
                    snapshot.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            after = (-1, -1)
            while True:
                with self.lock:
                    db = snapshot if snapshot is not None else self._conn()
                    rows = db.execute(sql, [*args, *after, batch]).fetchall()
                if not rows:
                    return
                after = (rows[-1][0], rows[-1][1])
                for _, _, data, crc in rows:
                    yield _chunk(_checked(data, crc))
        except (psycopg.Error, RowDamaged) as exc:
            raise self._error(exc) from exc
        finally:
            if snapshot is not None:
                snapshot.close()

    @_pg_guarded
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
        where: list[str] = []
        args: list[list] = []
        for field, given, kind in (
            ("doc", docs, "text"),
            ("place", places, "text"),
            ("level", levels, "text"),
            ("year", years, "int"),
        ):
            values = list(given)
            if values:
                where.append(f"c.{field} = ANY(%s::{kind}[])")
                args.append(values)
        if searchable_only:
            where.append("c.searchable = 1")
        sql = (
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY d.position, c.position"
        )
        with self.lock:
            return [r[0] for r in self._conn().execute(sql, args)]

    @_pg_guarded
    def int_ids_of(self, docs: Iterable[str]) -> list[int]:
        """The 63-bit ids of the searchable chunks of these documents (a scope's BM25 mask), ordered
        as the SQLite store returns them (by document id, then position)."""
        docs = list(docs)
        if not docs:
            return []
        sql = "SELECT iid FROM chunks WHERE searchable = 1 AND doc = ANY(%s::text[]) ORDER BY doc, iid"
        with self.lock:
            return [r[0] for r in self._conn().execute(sql, (docs,))]

    # --- checking ---------------------------------------------------------------------------------------
    @_pg_guarded
    def verify(self) -> int:
        """Check every document against the sha256 digest it was written with (PostgreSQL checks its
        own pages; this catches a row changed behind the store's back). Returns the number of
        documents; `RagError` naming the fix when something does not match."""
        with self.lock:
            count, damaged = self._first_damaged_and_count()
        if damaged is not None:
            raise Unavailable(
                f"the chunk store at {self.url} is damaged (document {damaged} does not match its checksum); "
                "run `rag index --rebuild`"
            )
        return count

    def _first_damaged(self) -> str | None:
        return self._first_damaged_and_count()[1]

    def _first_damaged_and_count(self) -> tuple[int, str | None]:
        """The number of documents, and the first whose rows do not match its digest, read from one
        snapshot (a write committing meanwhile is not mistaken for damage)."""
        db = self._conn()
        own = not self._in_txn
        if own:
            db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            docs = db.execute("SELECT id, digest, data FROM documents ORDER BY position").fetchall()
            for doc_id, digest, data in docs:
                rows = [r[0] for r in db.execute("SELECT data FROM chunks WHERE doc = %s ORDER BY position", (doc_id,))]
                if _digest(data, rows) != digest:
                    return len(docs), doc_id
            return len(docs), None
        finally:
            if own and not db.closed and not db.broken:
                db.execute("ROLLBACK")

    def _clear(self) -> None:
        """Delete every document, chunk and indicator (uploads and named values stay)."""
        with self.lock:
            db = self._conn()
            self._begin(db)
            try:
                db.execute("DELETE FROM chunks")
                db.execute("DELETE FROM documents")
                db.execute("DELETE FROM indicators")
                self._set_meta("generation", uuid.uuid4().hex)
                db.execute("COMMIT")
                self._in_txn = False
            except BaseException:
                self._abort()
                raise

    def close(self) -> None:
        """Close the connection; a change still pending is dropped (the server rolls it back)."""
        with self.lock:
            self._in_txn = False
            if self.db is not None:
                self.db.close()
                self.db = None
