"""Blocks: lines grouped into paragraph-level blocks and classified (wide and narrow layouts)."""

from __future__ import annotations

from rag.chunk.blocks import Block, build_blocks, group_lists
from rag.chunk.clean import find_markers
from rag.chunk.layout import detect_narrow, split_lines

WIDE = """甲市政府工作报告
——2024年1月20日在甲市第五届人民代表大会第三次会议上
甲市人民政府市长 张三
各位代表：
现在，我代表市人民政府，向大会报告工作，
请予审议，并请市政协委员提出意见。
一、2023年工作回顾
（一）坚持稳中求进。全市生产总值增长5.2%，一般公共预算收入增长6.1%。
**乙县经验**。乙县推进农村改革，新建高标准农田两万亩。
- 新建道路120公里
- 改造桥梁8座
二、2024年工作安排
"""

# A newspaper column of about 14 characters: a wrap puts 「（市、区）」 at the start of a line, and a
# numbered heading is wrapped over two lines.
NARROW = [
    "甲市全年完成固定资产投资八百",
    "亿元，同比增长百分之六，其中",
    "工业投资增长百分之九，民间投",
    "资占比提高到百分之五十五，各县",
    "（市、区）均完成年度目标任务",
    "，乙县和丙县增速位居全省前列",
    "，为全年经济稳定增长提供了有",
    "力支撑。",
    "（二）持续改善民生福祉。甲市",
    "新增城镇就业三万二千人，城镇",
    "登记失业率控制在百分之三以内",
    "，居民人均可支配收入增长百分",
    "之六。",
    "（三）加快建设乙县交通网络",
    "和丙镇物流枢纽",
    "丙镇新建物流园区两个，乙县新",
    "建道路一百二十公里，改造桥梁",
    "八座。",
]


def blocks_of(text: str) -> list[Block]:
    lines = split_lines(text, [])
    return group_lists(build_blocks(lines, *detect_narrow(lines)))


def test_wide_report_blocks_are_classified() -> None:
    got = [(b.kind, b.style, b.number) for b in blocks_of(WIDE)]
    assert got == [
        ("heading", "plain", None),  # the title
        ("subtitle", "", None),  # the meeting line
        ("speaker", "", None),
        ("body", "", None),  # 各位代表：
        ("body", "", None),
        ("heading", "cn", 1),
        ("body", "paren", 1),  # inline heading
        ("body", "bold", None),  # bold lead-in
        ("bullet", "", None),
        ("heading", "cn", 2),
    ]


def test_a_line_cut_mid_sentence_joins_the_next_in_wide_text() -> None:
    body = [b for b in blocks_of(WIDE) if b.kind == "body"][1]
    assert len(body.lines) == 2
    assert body.text == "现在，我代表市人民政府，向大会报告工作，请予审议，并请市政协委员提出意见。"


def test_inline_heading_and_bold_lead_in_get_titles() -> None:
    inline = [b for b in blocks_of(WIDE) if b.inline]
    assert [(b.style, b.number, b.title) for b in inline] == [
        ("paren", 1, "（一）坚持稳中求进"),
        ("bold", None, "乙县经验"),
    ]


def test_consecutive_bullets_are_one_list_block() -> None:
    bullets = [b for b in blocks_of(WIDE) if b.kind == "bullet"]
    assert len(bullets) == 1
    assert [ln.text for ln in bullets[0].lines] == ["- 新建道路120公里", "- 改造桥梁8座"]


def test_a_page_break_ends_a_list() -> None:
    text = "- 新建道路120公里\n（下转第2版）\n- 改造桥梁8座\n"
    lines = split_lines(text, find_markers(text))
    assert [b.kind for b in group_lists(build_blocks(lines, False, 0))] == ["bullet", "bullet"]


def test_narrow_column_wrap_does_not_make_a_false_heading() -> None:
    blocks = blocks_of("\n".join(NARROW))
    assert [(b.kind, len(b.lines)) for b in blocks] == [("body", 8), ("body", 5), ("heading", 2), ("body", 3)]
    assert "（市、区）均完成" in blocks[0].text


def test_narrow_heading_wrapped_over_two_lines_is_one_heading() -> None:
    heading = [b for b in blocks_of("\n".join(NARROW)) if b.kind == "heading"][0]
    assert (heading.style, heading.number, heading.title) == ("paren", 3, "（三）加快建设乙县交通网络和丙镇物流枢纽")


def test_noise_lines_become_one_noise_block_per_run() -> None:
    lines = split_lines("首页 > 新闻\n打印 关闭\n甲市新建道路120公里。\n", [])
    blocks = build_blocks(lines, False, 0, ["nav", "nav", None])
    assert [(b.kind, b.title, len(b.lines)) for b in blocks] == [("noise", "nav", 2), ("body", "", 1)]
