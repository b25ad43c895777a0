"""Re-assignment of interleaved articles by their vocabulary (character bigrams)."""

from __future__ import annotations

import pytest

from rag.chunk.blocks import build_blocks, group_lists
from rag.chunk.layout import detect_narrow, split_lines
from rag.chunk.reassign import reassign_interleaved
from rag.chunk.sections import Article, Para, build_sections

FARMING = ["种植水稻", "种植小麦", "农田灌溉", "灌溉水渠", "粮食产量", "水稻良种", "小麦良种", "家庭农场"]
INDUSTRY = ["芯片工厂", "机器人制造", "钢铁企业", "设备改造", "制造业投资", "芯片设计", "工厂改造", "智能制造"]


def _para(place: str, words: list[str], k: int) -> str:
    return place + "，".join(words[(k + i) % len(words)] for i in range(6)) + "。"


def interleaved_file(tail: list[str]) -> str:
    """Two articles whose headings interleave (甲县 farming, 乙市 industry); `tail` ends the second."""
    farming = [_para("甲县", FARMING, k) for k in range(8)]
    industry = [_para("乙市", INDUSTRY, k) for k in range(8)]
    return (
        "\n".join(
            [
                "# 甲县农业",
                "## 一、甲县种植",
                *farming[:4],
                "# 乙市工业",
                "### （一）乙市制造",
                *industry[:4],
                "## 二、甲县灌溉",
                *farming[4:],
                "### （二）乙市芯片",
                *industry[4:],
                *tail,
            ]
        )
        + "\n"
    )


def sections_of(text: str) -> tuple[list[Article], list[Para], bool]:
    lines = split_lines(text, [])
    return build_sections(group_lists(build_blocks(lines, *detect_narrow(lines))))


def test_a_paragraph_that_reads_like_the_other_article_moves_to_it() -> None:
    stray = "甲县" + "，".join(FARMING[6:0:-1]) + "。"
    articles, paras, interleaved = sections_of(interleaved_file([stray]))
    assert interleaved
    assert (paras[-1].block.text, paras[-1].article.index) == (stray, 2)
    out = reassign_interleaved(articles, paras)
    moved = [p for p in out if p.reassigned]
    assert [(p.block.text, p.article.index) for p in moved] == [(stray, 1)]
    assert moved[0].section is articles[0].root  # its old section belongs to the other article


def test_a_paragraph_joined_across_two_articles_is_split_where_the_vocabulary_changes() -> None:
    first = "甲县" + "，".join(FARMING[2:8]) + "，"  # no sentence end: the next line is joined to it
    second = "乙市" + "，".join(INDUSTRY[0:6]) + "。"
    articles, paras, _ = sections_of(interleaved_file([first, second]))
    assert [p.block.text for p in paras][-1] == first + second
    out = reassign_interleaved(articles, paras)
    assert [(p.block.text, p.article.index) for p in out[-2:]] == [(first, 1), (second, 2)]
    assert len(out) == len(paras) + 1


def test_paragraphs_already_in_their_article_stay() -> None:
    articles, paras, _ = sections_of(interleaved_file([]))
    placed = [(p.block.text, p.article.index, id(p.section)) for p in paras]
    out = reassign_interleaved(articles, paras)
    assert [(p.block.text, p.article.index, id(p.section)) for p in out] == placed
    assert not any(p.reassigned for p in out)


@pytest.mark.parametrize("farming, industry", [(1, 1), (4, 1)], ids=["both-short", "one-short"])
def test_articles_too_short_to_learn_from_are_left_as_they_are(farming: int, industry: int) -> None:
    """Below ~200 bigrams an article has no vocabulary to compare with: its paragraphs stay, nothing fails."""
    f = [_para("甲县", FARMING, k) for k in range(2 * farming)]
    i = [_para("乙市", INDUSTRY, k) for k in range(2 * industry)]
    text = (
        "\n".join(
            [
                "# 甲县农业",
                "## 一、甲县种植",
                *f[:farming],
                "# 乙市工业",
                "### （一）乙市制造",
                *i[:industry],
                "## 二、甲县灌溉",
                *f[farming:],
                "### （二）乙市芯片",
                *i[industry:],
            ]
        )
        + "\n"
    )
    articles, paras, interleaved = sections_of(text)
    assert interleaved
    placed = [(p.block.text, p.article.index) for p in paras]
    out = reassign_interleaved(articles, paras)
    assert [(p.block.text, p.article.index) for p in out] == placed and not any(p.reassigned for p in out)
