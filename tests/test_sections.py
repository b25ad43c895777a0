"""Sections: articles, the section tree and the paragraphs attached to both."""

from __future__ import annotations

from rag.chunk.blocks import build_blocks, group_lists
from rag.chunk.layout import detect_narrow, split_lines
from rag.chunk.sections import Article, Para, build_sections

REPORT = """甲市政府工作报告
——2024年1月20日在甲市第五届人民代表大会第三次会议上
一、2023年工作回顾
（一）经济运行稳中有进
全市生产总值增长5.2%。
（二）民生持续改善
新增城镇就业三万人。
二、2024年工作安排
（一）扩大有效投资。新开工项目一百个，完成投资八百亿元。
**乙县经验**。乙县新建高标准农田两万亩。
继续推进丙镇改造。
"""


def sections_of(text: str) -> tuple[list[Article], list[Para], bool]:
    lines = split_lines(text, [])
    return build_sections(group_lists(build_blocks(lines, *detect_narrow(lines))))


def paths(paras: list[Para], kind: str = "body") -> list[list[str]]:
    return [[s.title for s in p.section.path()] for p in paras if p.kind == kind]


def test_a_report_is_one_article_with_title_subtitle_and_nested_sections() -> None:
    articles, paras, interleaved = sections_of(REPORT)
    assert len(articles) == 1 and not interleaved
    art = articles[0]
    assert art.title == "甲市政府工作报告"
    assert art.subtitle == "2024年1月20日在甲市第五届人民代表大会第三次会议上"  # without the dash
    tree = [(s.title, [c.title for c in s.children]) for s in art.root.children]
    assert tree == [
        ("一、2023年工作回顾", ["（一）经济运行稳中有进", "（二）民生持续改善"]),
        ("二、2024年工作安排", ["（一）扩大有效投资"]),
    ]
    assert [p.kind for p in paras[:2]] == ["title", "title"]


def test_body_paragraphs_sit_in_the_innermost_open_section() -> None:
    _, paras, _ = sections_of(REPORT)
    assert paths(paras) == [
        ["一、2023年工作回顾", "（一）经济运行稳中有进"],
        ["一、2023年工作回顾", "（二）民生持续改善"],
        ["二、2024年工作安排", "（一）扩大有效投资"],  # the paragraph that opens with its inline heading
        ["二、2024年工作安排", "（一）扩大有效投资", "乙县经验"],
        ["二、2024年工作安排", "（一）扩大有效投资"],  # a bold lead-in titles its own paragraph only
    ]


def test_section_ordinals_count_within_the_parent() -> None:
    _, paras, _ = sections_of(REPORT)
    ordinals = [[s.ordinal for s in p.section.path()] for p in paras if p.kind == "body"]
    assert ordinals == [[1, 1], [1, 2], [2, 1], [2, 1, 1], [2, 1]]


def test_news_headlines_open_articles() -> None:
    articles, paras, _ = sections_of(
        "# 甲市新闻\n本报讯 甲市昨日召开会议，部署全年工作。\n# 乙县新闻\n本报讯 乙县昨日召开会议。\n"
    )
    assert [(a.index, a.title, a.kind) for a in articles] == [(1, "甲市新闻", "news"), (2, "乙县新闻", "news")]
    assert [p.article.index for p in paras if p.kind == "body"] == [1, 2]


def test_a_heading_style_of_an_earlier_article_switches_back_to_it() -> None:
    articles, paras, interleaved = sections_of("""# 甲市新闻
## 一、甲市工业
甲市工业增加值增长百分之七。
# 乙县新闻
### （一）乙县农业
乙县粮食产量稳定在十万吨。
## 二、甲市服务业
甲市服务业增加值增长百分之六。
""")
    assert interleaved
    assert [a.title for a in articles] == ["甲市新闻", "乙县新闻"]
    body = [(p.article.index, p.block.text) for p in paras if p.kind == "body"]
    assert body == [
        (1, "甲市工业增加值增长百分之七。"),
        (2, "乙县粮食产量稳定在十万吨。"),
        (1, "甲市服务业增加值增长百分之六。"),
    ]
    assert [c.title for c in articles[0].root.children] == ["一、甲市工业", "二、甲市服务业"]
