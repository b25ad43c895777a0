"""Reading the chunk store: summaries, chunks by id, and the ids of a scope (documents, places,
levels, years), each query a few rows by key under the store's one lock."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from rag.chunk.document import Chunk
from rag.indicators.catalog import EXTRACTOR_VERSION
from rag.search.store_rows import _checked, _chunk, _guarded, _json, _store_error


class StoreReads:
    """The reading half of `rag.search.store.ChunkStore` (which opens the connection and writes)."""

    path: Path
    db: sqlite3.Connection
    lock: threading.Lock
    _crc_col: str

    def _has_column(self, table: str, column: str) -> bool:
        return any(r[1] == column for r in self.db.execute(f"PRAGMA table_info({table})"))

    def _meta(self, key: str) -> str | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # no meta table: not a chunk store
            return None
        return row[0] if row else None

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
        where: list[str] = []
        args: list[str | int] = []
        for field, given in (("doc", docs), ("place", places), ("level", levels), ("year", years)):
            values: list[str | int] = list(given)
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
        # in the covering index's order (doc, iid): read from the index alone, no row is visited
        sql = f"SELECT iid FROM chunks WHERE searchable = 1 AND doc IN ({','.join('?' * len(docs))}) ORDER BY doc, iid"
        with self.lock:
            return [r[0] for r in self.db.execute(sql, docs)]
