"""Follow-up rewriting in chat, on its own: place and time swaps, a new topic for the same place,
and a place the reports do not cover (found by the query stage, so that the refusal gate sees it)."""

from __future__ import annotations

import pytest

from rag.answer.followup import rewrite
from rag.search.query import Analyzer, Report
from rag.search.translate import Translator


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer([Report("a", "甲市", "prefecture", 2024), Report("b", "乙县", "county", 2024)], Translator.load())


FIRST = "甲市今年要新认定多少家高新技术企业？"


def test_place_follow_up(analyzer: Analyzer) -> None:
    assert rewrite("那乙县呢？", [FIRST], analyzer.aliases) == "乙县今年要新认定多少家高新技术企业？"


def test_time_follow_up(analyzer: Analyzer) -> None:
    assert rewrite("去年呢？", [FIRST], analyzer.aliases) == "甲市去年要新认定多少家高新技术企业？"


def test_new_topic_for_the_same_place(analyzer: Analyzer) -> None:
    assert rewrite("它的5G基站呢？", [FIRST], analyzer.aliases) == "甲市的5G基站呢？"


def test_full_question_is_left_alone(analyzer: Analyzer) -> None:
    q = "乙县今年城镇新增就业目标是多少人？"
    assert rewrite(q, [FIRST], analyzer.aliases) == q
    assert rewrite(FIRST, [], analyzer.aliases) == FIRST


def test_follow_up_about_a_place_without_a_report(analyzer: Analyzer) -> None:
    got = rewrite("那石家庄呢？", [FIRST], analyzer.aliases, analyzer.unknown_places)
    assert got == "石家庄今年要新认定多少家高新技术企业？"
    assert analyzer.analyse(got).unknown_places == ["石家庄"], "the refusal gate sees the place"
