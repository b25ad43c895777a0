"""Keyword scoring (rag/search/bm25.py): BM25 over invented report sentences, the idf weights read off it,
and the partial sort retrieval uses. Real bm25s and jieba, nothing mocked."""

from __future__ import annotations

import math

import numpy as np

from rag.search.bm25 import BM25Index, Idf, top_n, top_weight

TEXTS = ["甲市新认定高新技术企业53家。", "乙县城镇新增就业1.8万人。", "丙区粮食产量稳定，甲市粮食产量增长。"]


def test_scores_rank_the_chunk_with_the_words():
    bm25 = BM25Index.build(TEXTS)
    assert bm25.num_docs == 3
    scores = bm25.scores("甲市高新技术企业有多少")
    assert scores.dtype == np.float32 and int(np.argmax(scores)) == 0
    assert scores[1] == 0
    assert not bm25.scores("丁镇旅游收入").any()  # no word of it is indexed: all zero, no error
    extra = bm25.scores("", ["粮食"])  # extra tokens count like the question's own
    assert extra[2] > 0 and extra[0] == extra[1] == 0


def test_idf_is_read_off_the_index():
    idf = BM25Index.build(TEXTS).idf()
    assert isinstance(idf, Idf) and "甲市" in idf and "丁镇" not in idf
    assert math.isclose(idf["甲市"], math.log(4 / 2.5))  # in 2 of 3 chunks
    assert math.isclose(idf["乙县"], math.log(4 / 1.5))  # in 1 of 3: rarer weighs more
    assert idf.top == idf["乙县"] == top_weight(idf)
    assert len(idf) == len(list(idf))


def test_top_weight_of_plain_mappings():
    assert top_weight(None) == top_weight({}) == 1.0
    assert top_weight({"甲市": 1.0, "乙县": 2.5}) == 2.5


def test_persisted_index_scores_the_same(tmp_path):
    bm25 = BM25Index.build(TEXTS)
    bm25.persist(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    assert loaded.num_docs == 3
    assert np.allclose(loaded.scores("乙县就业"), bm25.scores("乙县就业"))


def test_top_n_agrees_with_a_full_sort():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 50, 5000).astype(np.float32)  # many ties
    got = top_n(scores, 30)
    assert len(got) == 30 and len(set(got.tolist())) == 30
    assert np.array_equal(scores[got], np.sort(scores)[::-1][:30])
    assert list(top_n(np.array([0.1, 0.3, 0.2]), 10)) == [1, 2, 0]
    assert len(top_n(np.array([], dtype=np.float32), 5)) == 0
