"""Vector stores behind one interface, chosen by ``RAG_VECTOR_STORE`` (the txtai pattern: one
class per backend with the same methods, and a factory).

* ``faiss`` (default, embedded): an exact or HNSW index in a file of the build folder.
* ``milvus``: a Milvus collection; with no ``RAG_MILVUS_URI`` a Milvus Lite file under the index
  folder (embedded, no server), else a Milvus server or cluster reached with the same code.

Vectors are keyed by the chunk's stable 63-bit id and carry the fields a search can be limited
to (document, place, level, year). An index update is a diff: the ids a build adds are upserted,
the ids it drops are deleted; readers map the ids they get back through their own manifest and
skip ids they do not know, so a reader never sees a chunk its store does not hold.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import RagError
from rag.settings import Settings


@dataclass(frozen=True)
class VectorFilter:
    """What a search can be limited to; a field left empty does not limit."""

    docs: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    years: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.docs or self.places or self.levels or self.years)


class VectorStore(Protocol):
    """What indexing and retrieval need from a vector engine."""

    kind: str  # flat | hnsw (faiss), or the Milvus index type

    def upsert(self, ids: list[int], vectors: np.ndarray, meta: list[dict] | None = None) -> None: ...

    def delete(self, ids: list[int]) -> None: ...

    def search(self, query: np.ndarray, k: int, where: VectorFilter | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the `k` nearest vectors, best first (fewer when fewer are admitted)."""
        ...

    def count(self) -> int: ...

    def persist(self, build_dir: Path) -> dict:
        """Write what this build needs; the manifest entries that open it again."""
        ...

    def close(self) -> None: ...


def _meta_of(meta: list[dict] | None, n: int) -> list[dict]:
    keep = ("doc", "place", "level", "year")
    return [{k: m.get(k) for k in keep} for m in meta] if meta is not None else [{} for _ in range(n)]


class Fields:
    """The filterable fields of every vector a faiss index holds, as columns (an id array and one
    code array per field): at 10^6 vectors ~20 MB that load in milliseconds, where a dict per
    vector took a gigabyte and seconds."""

    NAMES = ("doc", "place", "level")

    def __init__(self):
        self.ids = np.zeros(0, dtype=np.int64)
        self.year = np.zeros(0, dtype=np.int32)
        self.codes = {f: np.zeros(0, dtype=np.int32) for f in self.NAMES}
        self.values: dict[str, list[str]] = {f: [] for f in self.NAMES}
        self._code: dict[str, dict[str, int]] = {f: {} for f in self.NAMES}

    def __len__(self) -> int:
        return len(self.ids)

    def _encode(self, field: str, value: str) -> int:
        table = self._code[field]
        if value not in table:
            table[value] = len(self.values[field])
            self.values[field].append(value)
        return table[value]

    def add(self, ids: list[int], meta: list[dict]) -> None:
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])
        self.year = np.concatenate([self.year, np.asarray([int(m.get("year") or 0) for m in meta], dtype=np.int32)])
        for f in self.NAMES:
            new = np.asarray([self._encode(f, m.get(f) or "") for m in meta], dtype=np.int32)
            self.codes[f] = np.concatenate([self.codes[f], new])

    def holds(self, ids: list[int]) -> list[int]:
        """Those of `ids` that have fields here."""
        arr = np.asarray(ids, dtype=np.int64)
        return arr[np.isin(arr, self.ids)].tolist()

    def delete(self, ids: list[int]) -> None:
        keep = ~np.isin(self.ids, np.asarray(ids, dtype=np.int64))
        self.ids, self.year = self.ids[keep], self.year[keep]
        self.codes = {f: c[keep] for f, c in self.codes.items()}

    def admitted(self, where: VectorFilter) -> np.ndarray:
        """Ids of the vectors the filter admits."""
        mask = np.ones(len(self.ids), dtype=bool)
        for f, wanted in (("doc", where.docs), ("place", where.places), ("level", where.levels)):
            if wanted:
                codes = [self._code[f][v] for v in wanted if v in self._code[f]]
                mask &= np.isin(self.codes[f], np.asarray(codes, dtype=np.int32))
        if where.years:
            mask &= np.isin(self.year, np.asarray(where.years, dtype=np.int32))
        return self.ids[mask]

    def save(self, path: Path) -> None:
        with path.open("wb") as fh:
            np.savez(
                fh,
                ids=self.ids,
                year=self.year,
                values=np.asarray(json.dumps(self.values, ensure_ascii=False)),
                **{f"code_{f}": c for f, c in self.codes.items()},
            )

    @classmethod
    def load(cls, path: Path) -> Fields:
        out = cls()
        with np.load(path, allow_pickle=False) as data:
            out.ids, out.year = data["ids"], data["year"]
            out.values = json.loads(str(data["values"]))
            out.codes = {f: data[f"code_{f}"] for f in cls.NAMES}
        out._code = {f: {v: n for n, v in enumerate(vals)} for f, vals in out.values.items()}
        return out


# --- faiss ------------------------------------------------------------------------------------------
class FaissStore:
    """Exact inner-product search (IndexFlatIP) or HNSW for large corpora, with 64-bit ids.

    HNSW parameters come from eval/bench_retrieval.py: with M=32 and efConstruction=80, efSearch
    512 keeps recall@10 against exact search at 0.96 at 10^6 vectors for ~4 ms a query, where
    the exact scan takes ~150 ms. Filters are applied inside the search (an id selector), so a
    filtered search still returns `k` hits when the filter admits that many."""

    FILE = "vectors.faiss"
    FIELDS = "vectors-fields.npz"

    def __init__(
        self,
        dim: int,
        kind: str = "flat",
        index=None,
        *,
        m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 512,
        fields: Fields | None = None,
    ):
        import faiss

        self.dim, self.kind = dim, kind
        if index is None:
            if kind == "hnsw":
                base = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
                base.hnsw.efConstruction = ef_construction
            else:
                base = faiss.IndexFlatIP(dim)
            index = faiss.IndexIDMap2(base)
        self.index = index
        self.fields = fields if fields is not None else Fields()
        self.set_ef_search(ef_search)

    def set_ef_search(self, ef: int) -> None:
        """Breadth of the HNSW search (a no-op for the exact index): recall against speed."""
        import faiss

        self.ef_search = int(ef)
        if self.kind == "hnsw":
            faiss.downcast_index(self.index.index).hnsw.efSearch = int(ef)

    def add(self, ids: list[int], vectors: np.ndarray, meta: list[dict] | None = None) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
            self.fields.add([int(i) for i in ids], _meta_of(meta, len(ids)))

    def upsert(self, ids: list[int], vectors: np.ndarray, meta: list[dict] | None = None) -> None:
        present = self.fields.holds(ids)  # the fields are kept for every vector held
        if present:
            self.delete(present)
        self.add(ids, vectors, meta)

    def delete(self, ids: list[int]) -> None:
        import faiss

        if ids and self.kind == "hnsw":  # faiss cannot unlink HNSW nodes; `build` starts afresh instead
            raise RagError("an HNSW index cannot remove vectors; rebuild it with `rag index`")
        if ids:
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))
            self.fields.delete(ids)

    def search(self, query: np.ndarray, k: int, where: VectorFilter | None = None) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if where:
            allowed = self.fields.admitted(where)
            if not len(allowed):
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
            sel = faiss.IDSelectorBatch(allowed)
            params = (
                faiss.SearchParametersHNSW(sel=sel, efSearch=self.ef_search)
                if self.kind == "hnsw"
                else faiss.SearchParameters(sel=sel)
            )
        scores, ids = self.index.search(q, max(1, min(k, len(self))), params=params)
        keep = ids[0] >= 0  # faiss pads a short result with -1
        return scores[0][keep], ids[0][keep]

    def search_many(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """A batch of queries at once (evaluation and benchmarks)."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        return self.index.search(q, max(1, min(k, len(self))))

    def count(self) -> int:
        return int(self.index.ntotal)

    def __len__(self) -> int:
        return self.count()

    def persist(self, build_dir: Path) -> dict:
        import faiss

        faiss.write_index(self.index, str(build_dir / self.FILE))
        self.fields.save(build_dir / self.FIELDS)
        return {"vector_store": "faiss"}

    @classmethod
    def load(cls, path: Path, dim: int, kind: str, ef_search: int = 512) -> FaissStore:
        import faiss

        fields_path = path.with_name(cls.FIELDS)
        fields = Fields.load(fields_path) if fields_path.exists() else None
        return cls(dim, kind, faiss.read_index(str(path)), ef_search=ef_search, fields=fields)

    def close(self) -> None:
        pass


# --- milvus -----------------------------------------------------------------------------------------
class MilvusStore:
    """One Milvus collection per index folder, reached through the alias ``<prefix>_chunks``.

    Milvus Lite (a file ``milvus.db`` under the index folder) when no URI is set; a server or
    cluster at ``RAG_MILVUS_URI`` (with ``RAG_MILVUS_TOKEN``) otherwise. Inner product over the
    normalised embeddings, as with faiss; scalar fields doc/place/level/year for filters."""

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
            from pymilvus import DataType, MilvusClient
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise RagError("RAG_VECTOR_STORE=milvus needs pymilvus (pip install pymilvus milvus-lite)") from exc
        # an existing collection is searched as it was built (its manifest says how), not as the
        # settings would build a new one
        self.settings, self.dim, self.kind = settings, dim, (kind or settings.milvus_index_type).lower()
        self.uri = settings.milvus_uri or str(settings.index_dir / "milvus.db")
        prefix = self.prefix(settings)
        self.alias = f"{prefix}_chunks"
        self.collection = collection or f"{prefix}_chunks_v1"
        try:
            self.client = (
                MilvusClient(uri=self.uri, token=settings.milvus_token)
                if settings.milvus_token
                else MilvusClient(uri=self.uri)
            )
        except Exception as exc:
            hint = (
                (
                    "; Milvus Lite opens its file in one process at a time: is a service or another `rag` "
                    "command using this index folder?"
                )
                if not settings.milvus_uri
                else ""
            )
            raise RagError(f"cannot open the Milvus store at {self.uri}: {exc}{hint}") from exc
        if create and not self.client.has_collection(self.collection):
            schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            schema.add_field("doc", DataType.VARCHAR, max_length=512)
            schema.add_field("place", DataType.VARCHAR, max_length=128)
            schema.add_field("level", DataType.VARCHAR, max_length=32)
            schema.add_field("year", DataType.INT64)
            index = self.client.prepare_index_params()
            params = (
                {"M": settings.hnsw_m, "efConstruction": settings.hnsw_ef_construction} if self.kind == "hnsw" else {}
            )
            index.add_index(field_name="vector", index_type=self.kind.upper(), metric_type="IP", params=params)
            self.client.create_collection(self.collection, schema=schema, index_params=index)
        if not self.client.has_collection(self.collection):
            raise RagError(
                f"the Milvus collection {self.collection} is missing at {self.uri}; run `rag index --rebuild`"
            )
        self.client.load_collection(self.collection)

    @staticmethod
    def prefix(settings: Settings) -> str:
        return re.sub(r"\W", "_", settings.milvus_collection_prefix, flags=re.A)

    def upsert(self, ids: list[int], vectors: np.ndarray, meta: list[dict] | None = None) -> None:
        # rows are made a batch at a time: as Python lists, 10^6 vectors would take over 12 GB
        vectors = np.asarray(vectors, dtype=np.float32)
        meta = _meta_of(meta, len(ids))
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
            self.client.upsert(self.collection, rows)

    def delete(self, ids: list[int]) -> None:
        for s in range(0, len(ids), 1000):
            self.client.delete(self.collection, ids=[int(i) for i in ids[s : s + 1000]])

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
        params = {"params": {"ef": max(k, self.settings.hnsw_ef_search)}} if self.kind == "hnsw" else {}
        hits = self.client.search(
            self.collection,
            data=[np.asarray(query, dtype=np.float32).ravel().tolist()],
            limit=max(1, k),
            filter=self.expression(where),
            output_fields=[],
            search_params=params,
        )[0]
        return (
            np.asarray([h["distance"] for h in hits], dtype=np.float32),
            np.asarray([h["id"] for h in hits], dtype=np.int64),
        )

    def count(self) -> int:
        self.client.flush(self.collection)
        return int(self.client.get_collection_stats(self.collection).get("row_count", 0))

    def __len__(self) -> int:
        return self.count()

    def persist(self, build_dir: Path) -> dict:
        """Flush, and point the alias at this collection (for other clients of the same Milvus)."""
        self.client.flush(self.collection)
        mine = self._aliases(self.collection)
        if self.alias not in mine:
            if self.alias in self._aliases(""):  # held by the previous build's collection: moved
                self.client.alter_alias(self.collection, self.alias)
            else:
                self.client.create_alias(self.collection, self.alias)
        return {
            "vector_store": "milvus",
            "milvus_uri": self.settings.milvus_uri or "milvus.db",
            "collection": self.collection,
        }

    def _aliases(self, collection: str) -> list[str]:
        """The aliases of one collection ("" for every alias of the database)."""
        got = self.client.list_aliases(collection)
        return list(got.get("aliases", []) if isinstance(got, dict) else got or [])

    def drop(self) -> None:
        self.client.drop_collection(self.collection)

    def close(self) -> None:
        self.client.close()


# --- the factory ------------------------------------------------------------------------------------
def choose_index_type(settings: Settings, n: int) -> str:
    """Exact search while it is fast enough, HNSW from `hnsw_threshold` vectors on (see the
    measurements in eval/bench_retrieval.py and the README)."""
    if settings.index_type != "auto":
        return settings.index_type
    return "hnsw" if n >= settings.hnsw_threshold else "flat"


def new_store(settings: Settings, dim: int, n: int) -> FaissStore:
    """An empty faiss store of the type and parameters the settings choose for `n` vectors."""
    return FaissStore(
        dim,
        choose_index_type(settings, n),
        m=settings.hnsw_m,
        ef_construction=settings.hnsw_ef_construction,
        ef_search=settings.hnsw_ef_search,
    )


def open_store(settings: Settings, manifest: dict, build_dir: Path) -> VectorStore:
    """The vector store a published manifest names."""
    match manifest.get("vector_store", "faiss"):
        case "faiss":
            return FaissStore.load(
                build_dir / FaissStore.FILE, manifest["dim"], manifest["index_type"], settings.hnsw_ef_search
            )
        case "milvus":
            return MilvusStore(settings, manifest["dim"], manifest["collection"], kind=manifest.get("index_type"))
        case other:
            raise RagError(f"the index names an unknown vector store {other!r}; run `rag index --rebuild`")
