"""Rows of the chunk store: its SQLite schema, the rows and checksums every store writes (the
SQLite file and the PostgreSQL database alike), and SQLite failures told as errors a user can act
on. Shared by the store's reading and writing halves."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from rag.chunk.document import Chunk, Document
from rag.errors import RagError, Unavailable
from rag.files import is_no_space, no_space_error

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
CREATE INDEX IF NOT EXISTS chunks_doc_searchable ON chunks (doc, searchable, iid);  -- a scope's ids, from the index alone
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


class RowDamaged(sqlite3.DatabaseError):
    """A row that does not match its checksum or cannot be parsed, in either store (a SQLite error
    too, so the SQLite store reports it like its own damage)."""


# --- what a write puts in the rows (both stores) -------------------------------------------------------
def document_rows(docs: list[Document], summaries: list[dict]) -> list[tuple]:
    """(position, document, summary, summary JSON, digest, chunk JSONs) of each document, in order."""
    rows = []
    for pos, (d, summary) in enumerate(zip(docs, summaries)):
        chunk_rows = [json.dumps(asdict(c), ensure_ascii=False) for c in d.chunks]
        doc_data = json.dumps(summary, ensure_ascii=False)
        rows.append((pos, d, summary, doc_data, _digest(doc_data, chunk_rows), chunk_rows))
    return rows


def document_values(pos: int, d: Document, meta: dict, digest: str, doc_data: str) -> tuple:
    """A document's row: (id, position, place, level, year, digest, data, crc)."""
    return (
        d.id,
        pos,
        meta.get("place") or "",
        meta.get("level") or "",
        meta.get("year"),
        digest,
        doc_data,
        _crc(doc_data),
    )


def chunk_values(d: Document, meta: dict, chunk_rows: list[str]) -> Iterator[tuple]:
    """A document's chunk rows: (iid, id, doc, position, kind, searchable, place, level, year, data, crc)."""
    for n, (c, data) in enumerate(zip(d.chunks, chunk_rows)):
        yield (
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


def indicator_values(d: Document, meta: dict) -> Iterator[tuple]:
    """The headline indicators of one document, extracted from its chunks: (doc, position, data)."""
    from rag.indicators.extract import extract

    for n, r in enumerate(extract(d.chunks, meta.get("level") or "")):
        yield (d.id, n, json.dumps(r.to_dict(), ensure_ascii=False))


def _store_error(path: Path, exc: sqlite3.Error) -> RagError:
    """A SQLite failure as the error a user can act on: full disk, busy, or a damaged file."""
    text = str(exc)
    if is_no_space(exc) or _full_disk_io_error(path, exc):
        return no_space_error(path.parent, "the chunk store")
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return Unavailable(f"the chunk store {path} is busy (another process is writing it); try again")
    return Unavailable(f"the chunk store {path} is damaged ({text}); run `rag index --rebuild`")


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
    def run(self: Any, *args, **kwargs):
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
        raise RowDamaged("a row does not match its checksum")
    return data


def _json(data: str):
    try:
        return json.loads(data)
    except ValueError as exc:
        raise RowDamaged(f"a row cannot be read: {exc}") from exc


def _chunk(data: str) -> Chunk:
    try:
        return Chunk(**json.loads(data))
    except (ValueError, TypeError) as exc:  # a damaged row: reported like SQLite's own damage
        raise RowDamaged(f"a chunk row cannot be read: {exc}") from exc
