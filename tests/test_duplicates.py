"""Duplicate paragraphs inside one report (rag/chunk/duplicates.py), on paragraphs cut from invented
reports by the real chunker."""

from __future__ import annotations

from rag.chunk.chunker import cut_document
from rag.chunk.duplicates import ALL_PAIRS_UP_TO, _bigram_set, _pairs, find_duplicates

A = "甲市全年新建公园12个，新增绿地面积30公顷，城市人均公园绿地面积达到15平方米，群众满意度持续提升。"
A_NEAR = "甲市全年新建公园12个，新增绿地面积30公顷，城市人均公园绿地面积达到15平方米，群众满意度不断提升。"
B = "乙县城镇新增就业1.8万人，城镇调查失业率控制在5.5%以内，农村居民人均可支配收入增长7%。"
C = "丙区粮食总产量稳定在50万吨以上，建成高标准农田2万亩，农业科技进步贡献率提高到65%。"


def body(text: str):
    _, paras, _, _ = cut_document(text)
    return [p for p in paras if p.kind == "body"]


def test_identical_and_near_identical_paragraphs_form_one_group():
    paras = body(f"{A}\n\n{B}\n\n{A}\n\n{A_NEAR}\n")
    groups, collapsed = find_duplicates(paras, 0.8)
    assert collapsed == 2
    assert len(groups["groups"]) == 1 and len(groups["dropped"]) == 2
    ((canon_id, others),) = groups["groups"].items()
    canon = next(p for p in paras if id(p) == canon_id)
    assert canon.block.text.strip() == A  # of equal lengths the first is kept
    assert {id(p) for p in others} == groups["dropped"]
    assert id(paras[1]) not in groups["dropped"]  # 乙县 stays


def test_a_contained_paragraph_joins_the_longer_one():
    short = "甲市全年新建城市公园12个、口袋公园36个。"
    paras = body(f"{short}新增绿地面积30公顷，城市人均公园绿地面积达到15平方米。\n\n{short}\n\n{C}\n")
    groups, collapsed = find_duplicates(paras, 0.9)
    assert collapsed == 1
    assert [id(p) for p in groups["groups"][id(paras[0])]] == [id(paras[1])]
    tiny = "甲市新建公园12个。"  # under 20 characters: too short to call contained
    assert find_duplicates(body(f"{tiny}新增绿地面积30公顷。\n\n{tiny}\n"), 0.9)[1] == 0


def test_different_paragraphs_and_a_high_threshold_collapse_nothing():
    assert find_duplicates(body(f"{A}\n\n{B}\n\n{C}\n"), 0.9) == ({"groups": {}, "dropped": set()}, 0)
    groups, collapsed = find_duplicates(body(f"{A}\n\n{A_NEAR}\n"), 0.99)  # near, but not that near
    assert collapsed == 0


def test_large_reports_compare_only_candidates_but_find_copies():
    import random

    rng = random.Random(7)
    pool = [chr(0x4E00 + i) for i in range(500)]  # bigrams rare enough that copies share the rarest
    keys = ["".join(rng.choice(pool) for _ in range(30)) for _ in range(ALL_PAIRS_UP_TO + 50)]
    keys.append(keys[5])  # an identical copy far away
    keys.append(keys[9][:-1] + "。")  # a near copy
    grams = [_bigram_set(k) for k in keys]
    pairs = set(_pairs(keys, grams, 0.9))
    n = len(keys)
    assert len(pairs) < n * 40  # not every pair (that would be ~2 million)
    assert (5, n - 2) in pairs and (9, n - 1) in pairs
    assert all(i < j for i, j in pairs)


def test_short_paragraphs_are_never_compared():
    keys = ["甲市", "甲市", "乙县城镇新增就业1.8万人"]
    assert list(_pairs(keys, [_bigram_set(k) for k in keys], 0.9)) == []
