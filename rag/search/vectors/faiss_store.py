"""The faiss store: an exact or HNSW index in a file of the build folder (the embedded default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import RagError
from rag.search.vectors.base import VectorFilter, VectorStore, best_first, meta_of
from rag.settings import Settings


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
        columns: dict[str, Any] = {f"code_{f}": c for f, c in self.codes.items()}
        with path.open("wb") as fh:
            np.savez(
                fh,
                ids=self.ids,
                year=self.year,
                values=np.asarray(json.dumps(self.values, ensure_ascii=False)),
                **columns,
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


class FaissStore(VectorStore):
    """Exact inner-product search (IndexFlatIP) or HNSW for large corpora, with 64-bit ids.

    HNSW parameters come from eval/bench_retrieval.py: with M=32 and efConstruction=80, efSearch
    512 keeps recall@10 against exact search at 0.96 at 10^6 vectors for ~4 ms a query, where
    the exact scan takes ~150 ms. Filters are applied inside the search (an id selector), so a
    filtered search still returns `k` hits when the filter admits that many."""

    name = "faiss"
    in_build_folder = True
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
            base: faiss.Index
            if kind == "hnsw":
                base = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
                base.hnsw.efConstruction = ef_construction
            else:
                base = faiss.IndexFlatIP(dim)
            index = faiss.IndexIDMap2(base)
        self.index = index
        self.fields = fields if fields is not None else Fields()
        self.set_ef_search(ef_search)

    @classmethod
    def create(cls, settings: Settings, dim: int, n: int, stamp: str) -> FaissStore:
        """An empty index of the type and parameters the settings choose for `n` vectors."""
        v = settings.vectors
        return cls(
            dim,
            choose_index_type(settings, n),
            m=v.hnsw_m,
            ef_construction=v.hnsw_ef_construction,
            ef_search=v.hnsw_ef_search,
        )

    @classmethod
    def open(cls, settings: Settings, manifest: dict, build_dir: Path) -> FaissStore:
        return cls.load(build_dir / cls.FILE, manifest["dim"], manifest["index_type"], settings.vectors.hnsw_ef_search)

    @classmethod
    def reuse(cls, settings: Settings, manifest: dict, dim: int, n: int) -> FaissStore | None:
        """The previous build's exact index, when the settings still choose an exact one (faiss
        cannot remove vectors from an HNSW graph) and it kept its fields."""
        if manifest.get("index_type") != "flat" or choose_index_type(settings, n) != "flat":
            return None
        store = cls.load(settings.index_dir / manifest["build_dir"] / cls.FILE, dim, "flat")
        return store if len(store.fields) == store.count() else None  # else from before the fields were kept

    def set_ef_search(self, ef: int) -> None:
        """Breadth of the HNSW search (a no-op for the exact index): recall against speed."""
        import faiss

        self.ef_search = int(ef)
        if self.kind == "hnsw":
            # downcast_index returns the concrete class; the stubs say Index
            faiss.downcast_index(self.index.index).hnsw.efSearch = int(ef)  # type: ignore[attr-defined]

    def add(self, ids: list[int], vectors: np.ndarray, meta: list[dict] | None = None) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
            self.fields.add([int(i) for i in ids], meta_of(meta, len(ids)))

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
            # the faiss stubs lack SearchParametersHNSW and the `sel` argument both take
            params = (
                faiss.SearchParametersHNSW(sel=sel, efSearch=self.ef_search)  # type: ignore[attr-defined]
                if self.kind == "hnsw"
                else faiss.SearchParameters(sel=sel)  # type: ignore[call-arg]
            )
        scores, ids = self.index.search(q, max(1, min(k, len(self))), params=params)
        keep = ids[0] >= 0  # faiss pads a short result with -1
        return best_first(scores[0][keep], ids[0][keep])

    def search_many(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """A batch of queries at once (evaluation and benchmarks)."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        return self.index.search(q, max(1, min(k, len(self))))

    def count(self) -> int:
        return int(self.index.ntotal)

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


def choose_index_type(settings: Settings, n: int) -> str:
    """Exact search while it is fast enough, HNSW from `hnsw_threshold` vectors on (see the
    measurements in eval/bench_retrieval.py and the README)."""
    if settings.vectors.index_type != "auto":
        return settings.vectors.index_type
    return "hnsw" if n >= settings.vectors.hnsw_threshold else "flat"
