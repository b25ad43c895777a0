"""The vector stores: one contract run against faiss and Milvus Lite (upsert, delete, filtered
search, count, persist and reopen), and the seed index built and searched through each."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from rag.search.vectors import FaissStore, MilvusStore, VectorFilter, open_store
from rag.settings import Settings, VectorSettings

DIM = 16


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(params=["faiss", "milvus"])
def made(request, tmp_path):
    """(settings, a new empty store, a function that reopens it from what it persisted)."""
    settings = Settings(index_dir=tmp_path / "index", vectors=VectorSettings(store=request.param))
    settings.index_dir.mkdir()
    build = tmp_path / "build"
    build.mkdir()
    if request.param == "faiss":
        store = FaissStore(DIM, "flat")
    else:
        store = MilvusStore(settings, DIM, "gov_report_chunks_test", create=True)

    def reopen():
        manifest = {"dim": DIM, "index_type": store.kind, **store.persist(build)}
        return open_store(settings, manifest, build)

    yield settings, store, reopen
    store.close()


META = [
    {
        "doc": f"d{i % 3}",
        "place": "甲市" if i % 2 else "乙县",
        "level": "city" if i % 2 else "county",
        "year": 2023 + i % 2,
    }
    for i in range(30)
]


def test_every_store_upserts_searches_filters_deletes_and_reopens(made):
    _, store, reopen = made
    x = _vectors(30)
    ids = list(range(100, 130))
    store.upsert(ids, x, META)
    assert store.count() == 30
    scores, got = store.search(x[4], 3)
    assert got[0] == 104 and scores[0] == pytest.approx(1.0, abs=1e-4)
    # a filter limits the search and still fills k from what it admits
    _, got = store.search(x[4], 5, VectorFilter(docs=("d1",)))
    assert len(got) == 5 and all(META[i - 100]["doc"] == "d1" for i in got), got
    _, got = store.search(x[4], 30, VectorFilter(places=("甲市",), years=(2024,)))
    assert sorted(got) == [100 + i for i in range(30) if i % 2], got
    _, got = store.search(x[4], 5, VectorFilter(levels=("province",)))
    assert len(got) == 0
    # an upsert of an id replaces its vector; a delete removes it
    store.upsert([104], x[7:8], [META[7]])
    assert store.count() == 30
    assert store.search(x[7], 2)[1].tolist()[:2] in ([104, 107], [107, 104])
    store.delete([104, 107])
    assert store.count() == 28
    assert not {104, 107} & set(store.search(x[7], 28)[1].tolist())
    again = reopen()
    assert again.count() == 28
    assert again.search(x[9], 1)[1][0] == 109
    _, got = again.search(x[9], 10, VectorFilter(docs=("d0",)))
    assert got.size and all(META[i - 100]["doc"] == "d0" for i in got)


def test_milvus_filter_values_are_quoted():
    expr = MilvusStore.expression(VectorFilter(docs=('a"] or id > 0 or doc in ["',), years=(2024,)))
    assert expr == 'doc in ["a\\"] or id > 0 or doc in [\\""] and year in [2024]', expr


@pytest.mark.parametrize("backend", ["faiss", "milvus"])
def test_the_seed_index_is_built_updated_by_diff_and_searched_through_each_store(backend, seed_index, tmp_path):
    from rag.ingest import ingest_paths
    from rag.search.index import build, read_manifest
    from rag.search.retrieve import Retriever
    from rag.search.store import write_store

    settings = seed_index.model_copy(update={"index_dir": tmp_path / "index", "vectors": VectorSettings(store=backend)})
    settings.index_dir.mkdir()
    shutil.copytree(seed_index.index_dir / "cache", settings.index_dir / "cache")
    shutil.copy(seed_index.index_dir / "chunks.sqlite", settings.index_dir)
    first = build(settings, progress=False)
    manifest = read_manifest(settings)
    assert manifest.get("vector_store", "faiss") == backend
    r = Retriever(settings)
    top = r.search("忻州今年要新认定多少家高新技术企业？", 5)
    assert any("53家" in x.text for x in top), [x.text[:40] for x in top]
    faiss_top = Retriever(seed_index).search("忻州今年要新认定多少家高新技术企业？", 5)
    assert [x.id for x in top] == [x.id for x in faiss_top], "the stores rank the seeds differently"

    # drop one report: the next build deletes its vectors and keeps the rest (a diff, not a refill)
    dropped, *keep = sorted(settings.seeds_dir.glob("*.txt"))
    write_store(ingest_paths(keep, settings, progress=False), settings)
    second = build(settings, progress=False)
    assert second.removed > 0 and second.embedded == 0
    after = read_manifest(settings)
    if backend == "milvus":
        assert after["collection"] == manifest["collection"], "an update made a new collection"
    assert after["chunk_count"] == first.chunks - second.removed
    r2 = Retriever(settings)
    assert r2.index.store.count() == after["chunk_count"]
    hits = r2.search("忻州今年要新认定多少家高新技术企业？", 5)
    assert all(not h.doc.startswith(dropped.stem) for h in hits)


def test_a_milvus_lite_file_held_by_another_process_is_a_clear_error(tmp_path):
    import subprocess
    import sys

    settings = Settings(index_dir=tmp_path, vectors=VectorSettings(store="milvus"))
    store = MilvusStore(settings, DIM, "gov_report_chunks_held", create=True)
    try:
        code = (
            "from pathlib import Path\nfrom rag.errors import RagError\nfrom rag.settings import Settings, VectorSettings\n"
            "from rag.search.vectors import MilvusStore\n"
            f"s = Settings(index_dir=Path({str(tmp_path)!r}), vectors=VectorSettings(store='milvus'))\n"
            "try:\n    MilvusStore(s, 16, 'gov_report_chunks_held')\nexcept RagError as e:\n    print(e)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert "one process at a time" in out.stdout, out.stdout + out.stderr[-500:]
    finally:
        store.close()
