"""Rows of the chunk store: its SQLite schema, the checksums every row carries, and SQLite
failures told as errors a user can act on. Shared by the store's reading and writing halves."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import zlib
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from rag.chunk.document import Chunk
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
