"""The places of a question (rag/search/places.py): the library's by any alias or Latin name, the ones it
lacks, and where each is named (for questions about two places)."""

import pytest

from rag.search.places import Places, place_aliases
from rag.search.translate import Translator


@pytest.fixture(scope="module")
def places() -> Places:
    return Places(["甲市", "乙县", "全国", "宁夏回族自治区", "甲市"], Translator.load())


def test_aliases_of_every_place_once(places):
    assert places.aliases["甲市"] == "甲市" and places.aliases["宁夏"] == "宁夏回族自治区"
    assert places.aliases["国务院"] == "全国"
    assert "甲" not in places.aliases, "a one-character bare name is no alias"
    assert place_aliases("乙丙市") == {"乙丙市", "乙丙"}


def test_places_named_in_chinese_and_english(places):
    assert places.find("甲市和宁夏今年的目标", "甲市和宁夏今年的目标") == {"甲市", "宁夏回族自治区"}
    assert places.find("国务院提出", "国务院提出") == {"全国"}
    assert "全国" in places.find("what did the state council set", "What did the State Council set?")


def test_a_place_beside_a_known_one_is_a_place_the_library_lacks(places):
    assert places.unknown("甲市和丁县今年的投资目标分别是多少？") == ["丁县"]
    assert places.unknown("甲市与戊己市的增速哪个更高？") == ["戊己市"]
    assert places.unknown("甲市和乙县今年的目标分别是多少？") == []


def test_spans_in_order_of_mention_one_per_place(places):
    text = "乙县和甲市今年的目标，甲市的更高吗？"
    spans = places.spans(text, {"甲市", "乙县"}, [])
    assert [p for _, p in spans] == ["乙县", "甲市"]
    assert spans[1][0] == (text.index("甲市"), text.index("甲市") + 2), "the first mention"
    assert [p for _, p in places.spans("甲市和丁县的目标", {"甲市"}, ["丁县"])] == ["甲市", "丁县"]


def test_the_latin_names_an_english_question_uses(places):
    names = places.latin_names("How fast did Ningxia grow, and what did the State Council set?")
    assert names.get("ningxia") == "宁夏回族自治区" and names.get("state council") == "全国"
    assert places.latin_names("What was the growth target?") == {}
