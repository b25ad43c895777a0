"""The Milvus store: a collection of Milvus Lite (a file under the index folder, no server) or of
a Milvus server or cluster, reached with the same code."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import numpy as np

from rag.errors import RagError, Unavailable
from rag.search.vectors.base import VectorFilter, VectorStore, best_first, meta_of
from rag.settings import Settings

log = logging.getLogger(__name__)
# a server's index build that indexes no new row for this long is taken as failed
INDEX_STALL_S = 1800.0


class MilvusStore(VectorStore):
    """One Milvus collection per index folder, reached through the alias ``<prefix>_chunks``.

    Milvus Lite (a file ``milvus.db`` under the index folder) when no URI is set; a server or
    cluster at ``RAG_VECTORS__MILVUS_URI`` (with ``RAG_VECTORS__MILVUS_TOKEN``) otherwise. Inner product over the
    normalised embeddings, as with faiss; scalar fields doc/place/level/year for filters.

    Searches read at Eventually consistency: they never wait for the server's clock. A published
    index needs no more: `persist` (flush, index, then a Strong read) returns only once every vector
    written is searchable at any level, and readers map the ids Milvus returns through their own id
    list, so a vector deleted after publication is skipped, not cited. (A Bounded read waits until
    the query node has caught up with the server's clock, which after a server restart takes ~20 s
    at 10^6 vectors even though every segment is loaded.) `count` reads at Strong; `holds`, the
    check of an index load, counts at Eventually first and at Strong only when that disagrees. A
    connection, search or count that takes longer than ``RAG_VECTORS__MILVUS_TIMEOUT`` is an error
    (`Unavailable`), as is a server that does not answer."""

    name = "milvus"

    def __init__(
        self,
        settings: Settings,
        dim: int,
        collection: str | None = None,
        *,
        create: bool = False,
        kind: str | None = None,
    ):
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise RagError("RAG_VECTORS__STORE=milvus needs pymilvus (pip install pymilvus milvus-lite)") from exc
        # an existing collection is searched as it was built (its manifest says how), not as the
        # settings would build a new one
        self.settings, self.dim, self.kind = settings, dim, (kind or settings.vectors.milvus_index_type).lower()
        self.uri = settings.vectors.milvus_uri or str(settings.index_dir / "milvus.db")
        self.remote = bool(settings.vectors.milvus_uri)
        prefix = self.prefix(settings)
        self.alias = f"{prefix}_chunks"
        self.collection = collection or f"{prefix}_chunks_v1"
        self.timeout = settings.vectors.milvus_timeout
        try:
            self.client = (
                MilvusClient(uri=self.uri, token=settings.vectors.milvus_token, timeout=self.timeout)
                if settings.vectors.milvus_token
                else MilvusClient(uri=self.uri, timeout=self.timeout)
            )
        except Exception as exc:
            hint = (
                (
                    "; Milvus Lite opens its file in one process at a time: is a service or another `rag` "
                    "command using this index folder?"
                )
                if not settings.vectors.milvus_uri
                else "; is the server running?"
            )
            raise Unavailable(f"cannot open the Milvus store at {self.uri}: {_brief(exc)}{hint}") from exc
        try:
            self._open(dim, create)
        except RagError:
            raise
        except Exception as exc:
            raise self._failed("open its collection", exc) from exc

    def _open(self, dim: int, create: bool) -> None:
        from pymilvus import DataType

        settings = self.settings
        if create and not self.client.has_collection(self.collection, timeout=self.timeout):
            schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            schema.add_field("doc", DataType.VARCHAR, max_length=512)
            schema.add_field("place", DataType.VARCHAR, max_length=128)
            schema.add_field("level", DataType.VARCHAR, max_length=32)
            schema.add_field("year", DataType.INT64)
            index = self.client.prepare_index_params()
            params = (
                {"M": settings.vectors.hnsw_m, "efConstruction": settings.vectors.hnsw_ef_construction}
                if self.kind == "hnsw"
                else {}
            )
            index.add_index(field_name="vector", index_type=self.kind.upper(), metric_type="IP", params=params)
            self.client.create_collection(self.collection, schema=schema, index_params=index)
        if not self.client.has_collection(self.collection, timeout=self.timeout):
            raise RagError(
                f"the Milvus collection {self.collection} is missing at {self.uri}; run `rag index --rebuild`"
            )
        self.client.load_collection(self.collection)

    @classmethod
    def create(cls, settings: Settings, dim: int, n: int, stamp: str) -> MilvusStore:
        """A new collection named after the build: the published one stays searchable meanwhile."""
        return cls(settings, dim, f"{cls.prefix(settings)}_chunks_{stamp.replace('-', '_')}", create=True)

    @classmethod
    def open(cls, settings: Settings, manifest: dict, build_dir: Path) -> MilvusStore:
        return cls(settings, manifest["dim"], manifest["collection"], kind=manifest.get("index_type"))

    @classmethod
    def reuse(cls, settings: Settings, manifest: dict, dim: int, n: int) -> MilvusStore | None:
        """The previous build's collection when it has the index type the settings choose and is reachable."""
        if manifest.get("index_type") != settings.vectors.milvus_index_type.lower():
            return None
        try:
            return cls(settings, dim, manifest["collection"], kind=manifest.get("index_type"))
        except RagError:
            return None

    @classmethod
    def drop_previous(cls, settings: Settings, old: dict, new: dict) -> None:
        """The previous build's collection, once a new one is published."""
        if old.get("collection") == new.get("collection"):
            return
        try:
            cls(settings, old["dim"], old["collection"]).drop()
        except Exception:  # noqa: BLE001 - a leftover collection is harmless and dropped by the next rebuild
            pass

    @staticmethod
    def prefix(settings: Settings) -> str:
        return re.sub(r"\W", "_", settings.vectors.milvus_collection_prefix, flags=re.A)

    def _failed(self, what: str, exc: Exception) -> Unavailable:
        """The error a failed call becomes: one line naming the store and what it could not do."""
        where = f"the Milvus server at {self.uri}" if self.settings.vectors.milvus_uri else f"Milvus Lite ({self.uri})"
        return Unavailable(f"{where} could not {what}: {_brief(exc)}")

    def upsert(self, ids: list[int], vectors: np.ndarray, meta: list[dict] | None = None) -> None:
        # rows are made a batch at a time: as Python lists, 10^6 vectors would take over 12 GB
        vectors = np.asarray(vectors, dtype=np.float32)
        meta = meta_of(meta, len(ids))
        for s in range(0, len(ids), 1000):
            rows = [
                {
                    "id": int(i),
                    "vector": v.tolist(),
                    "doc": m.get("doc") or "",
                    "place": m.get("place") or "",
                    "level": m.get("level") or "",
                    "year": int(m.get("year") or 0),
                }
                for i, v, m in zip(ids[s : s + 1000], vectors[s : s + 1000], meta[s : s + 1000])
            ]
            try:
                self.client.upsert(self.collection, rows)
            except Exception as exc:
                raise self._failed("store vectors", exc) from exc

    def delete(self, ids: list[int]) -> None:
        for s in range(0, len(ids), 1000):
            try:
                self.client.delete(self.collection, ids=[int(i) for i in ids[s : s + 1000]])
            except Exception as exc:
                raise self._failed("delete vectors", exc) from exc

    @staticmethod
    def expression(where: VectorFilter | None) -> str:
        """The Milvus boolean expression of a filter (values quoted with json, which escapes them)."""
        if not where:
            return ""
        parts = []
        for field, values in (("doc", where.docs), ("place", where.places), ("level", where.levels)):
            if values:
                parts.append(f"{field} in [{', '.join(json.dumps(v, ensure_ascii=False) for v in values)}]")
        if where.years:
            parts.append(f"year in [{', '.join(str(int(y)) for y in where.years)}]")
        return " and ".join(parts)

    def search(self, query: np.ndarray, k: int, where: VectorFilter | None = None) -> tuple[np.ndarray, np.ndarray]:
        vs = self.settings.vectors
        params = {"params": {"ef": max(k, vs.milvus_ef_search or vs.hnsw_ef_search)}} if self.kind == "hnsw" else {}
        try:
            hits = self.client.search(
                self.collection,
                data=[np.asarray(query, dtype=np.float32).ravel().tolist()],
                limit=max(1, k),
                filter=self.expression(where),
                output_fields=[],
                search_params=params,
                consistency_level="Eventually",
                timeout=self.timeout,
            )[0]
        except Exception as exc:
            raise self._failed("search", exc) from exc
        return best_first(
            np.asarray([h["distance"] for h in hits], dtype=np.float32),
            np.asarray([h["id"] for h in hits], dtype=np.int64),
        )

    def count(self, consistency: str = "Strong") -> int:
        """The vectors held now. A count(*) query, at Strong consistency unless told otherwise: a
        server's collection statistics count deleted (and upserted-over) rows until compaction, and a
        weaker read may not see the newest writes yet."""
        try:
            got = self.client.query(
                self.collection,
                filter="",
                output_fields=["count(*)"],
                consistency_level=consistency,
                timeout=self.timeout,
            )
        except Exception as exc:
            raise self._failed("count its vectors", exc) from exc
        return int(got[0]["count(*)"]) if got else 0

    def holds(self, n: int) -> bool:
        """An Eventually count first: what `persist` published is in sealed segments, which a
        server loads before it reports the collection loaded, so a published collection agrees at
        once, even right after a server restart (where a Strong read waits ~20 s at 10^6 vectors).
        Only a disagreement is checked again at Strong."""
        return self.count("Eventually") == n or self.count() == n

    def persist(self, build_dir: Path) -> dict:
        """Flush, wait until a server has indexed every row and a Strong read sees them all, and
        point the alias at this collection (for other clients of the same Milvus)."""
        self.client.flush(self.collection)
        if self.settings.vectors.milvus_uri:
            self._wait_indexed()
        self.count()  # a Strong read: from here on every vector written is searchable at any consistency
        mine = self._aliases(self.collection)
        if self.alias not in mine:
            if self.alias in self._aliases(""):  # held by the previous build's collection: moved
                self.client.alter_alias(self.collection, self.alias)
            else:
                self.client.create_alias(self.collection, self.alias)
        return {
            "vector_store": "milvus",
            "milvus_uri": self.settings.vectors.milvus_uri or "milvus.db",
            "collection": self.collection,
        }

    def _wait_indexed(self, poll_s: float = 1.0) -> None:
        """Until the server's vector index covers every row. A server builds it in the background
        once a flush seals the segments (an HNSW of 2×10^4 vectors: ~20 s after the flush on two
        cores); a collection published before would be searched without it meanwhile. An index
        build that indexes no new row for `INDEX_STALL_S` is an error."""
        last, since, told = -1, time.monotonic(), time.monotonic()
        while True:
            try:
                got = self.client.describe_index(self.collection, "vector", timeout=self.timeout)
            except Exception as exc:
                raise self._failed("report its index build", exc) from exc
            pending, done = int(got.get("pending_index_rows") or 0), int(got.get("indexed_rows") or 0)
            if pending == 0:
                return
            now = time.monotonic()
            if done != last:
                last, since = done, now
            elif now - since > INDEX_STALL_S:
                raise Unavailable(
                    f"the Milvus server at {self.uri} indexed no row of {self.collection} for {INDEX_STALL_S:.0f} s "
                    f"({done} indexed, {pending} waiting); see the server's log"
                )
            if now - told > 60:
                log.info("Milvus is indexing %s: %d rows indexed, %d waiting", self.collection, done, pending)
                told = now
            time.sleep(poll_s)

    def _aliases(self, collection: str) -> list[str]:
        """The aliases of one collection ("" for every alias of the database)."""
        got = self.client.list_aliases(collection)
        return list(got.get("aliases", []) if isinstance(got, dict) else got or [])

    def drop(self) -> None:
        self.client.drop_collection(self.collection)

    def close(self) -> None:
        self.client.close()


def _brief(exc: Exception) -> str:
    """An exception on one line (gRPC's spread over several), cut to a readable length."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:240]}"
