"""Embedding (rag/search/embed.py): the text a chunk is embedded as, and the vector cache keyed by it.
The real embedders are exercised in tests/test_retrieve.py and tests/test_index.py."""

from __future__ import annotations

import numpy as np

from rag.chunk.document import Chunk
from rag.search.embed import EmbeddingCache, embed_text


def chunk(**kw) -> Chunk:
    base = dict(
        id="d/a1/s1/p1",
        doc="d",
        article=1,
        kind="body",
        title="2024年政府工作报告",
        place="甲市",
        year=2024,
        section=["一、2023年工作回顾"],
        section_path="1",
        paragraph=1,
        part=0,
        text="全市新建公园12个。",
        search_text="全市新建公园12个。",
        start=0,
        end=9,
        spans=[[0, 9]],
        locations=[],
    )
    base.update(kw)
    return Chunk(**base)


def test_the_breadcrumb_ties_a_paragraph_to_its_place_and_year():
    assert embed_text(chunk()) == "甲市2024年2024年政府工作报告一、2023年工作回顾：全市新建公园12个。"
    assert embed_text(chunk(period=2023)).startswith("甲市2023年2024年")  # the year the passage is about
    assert embed_text(chunk(place="", year=None, section=[])) == "2024年政府工作报告：全市新建公园12个。"


def test_the_breadcrumb_is_normalised_but_the_text_is_used_as_indexed():
    got = embed_text(chunk(place="乙縣", title="２０２４年政府工作報告", search_text="already normalised"))
    assert got == "乙县2024年2024年政府工作报告一、2023年工作回顾：already normalised"


class Counting:
    model_id, dim = "test/counting", 3

    def __init__(self):
        self.seen: list[str] = []

    def embed_passages(self, texts):
        self.seen += texts
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_the_cache_embeds_each_text_once_and_survives_a_save(tmp_path):
    emb = Counting()
    cache = EmbeddingCache(tmp_path, emb.model_id, emb.dim)
    vecs, computed = cache.embed(emb, ["甲市", "乙县城镇"])
    assert computed == 2 and vecs.shape == (2, 3) and vecs[1][0] == 4
    vecs, computed = cache.embed(emb, ["丙镇", "甲市"])
    assert computed == 1 and emb.seen == ["甲市", "乙县城镇", "丙镇"]  # 甲市 from the cache
    assert np.array_equal(vecs[1], [2, 1, 0])
    cache.save()
    again = EmbeddingCache(tmp_path, emb.model_id, emb.dim)
    assert again.damaged is None and again.embed(emb, ["乙县城镇"])[1] == 0
    assert EmbeddingCache(tmp_path, "test/other", 3).vectors == {}  # another model's file
