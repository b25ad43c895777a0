"""Pieces: paragraph text with offsets, sentence splitting, length caps, numbering within sections."""

from __future__ import annotations

import re

from rag.chunk.blocks import build_blocks, group_lists
from rag.chunk.layout import detect_narrow, split_lines
from rag.chunk.pieces import HARD_MAX, cap_length, make_pieces, para_text, split_full_sentences, split_paragraph
from rag.chunk.sections import Para, build_sections

MD = "## 一、甲市交通\n全年**乙县**新建道路。\n- 新建道路\n- 改造桥梁\n丙镇改造桥梁八座。\n## 二、甲市民生\n丁村新增就业三百人。\n"


def paras_of(text: str) -> list[Para]:
    lines = split_lines(text, [])
    return build_sections(group_lists(build_blocks(lines, *detect_narrow(lines))))[1]


def test_full_sentences_end_at_stops_with_their_closing_quotes_not_at_semicolons() -> None:
    text = "甲市新建道路120公里。乙县“完成改造！”丙镇增长；丁村稳定？剩余"
    spans = split_full_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "甲市新建道路120公里。",
        "乙县“完成改造！”",
        "丙镇增长；丁村稳定？",
        "剩余",
    ]
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))


def test_a_paragraph_up_to_1_6_times_the_target_stays_whole() -> None:
    text = "甲市全年新建道路一百二十公里，改造桥梁八座。" * 3  # 66 characters
    assert split_paragraph(text, 42) == [(0, len(text))]
    assert len(split_paragraph(text, 40)) > 1


def test_a_long_paragraph_is_cut_at_sentence_ends_into_parts_near_the_target() -> None:
    sentence = "甲市全年新建道路一百二十公里，改造桥梁八座。"  # 22 characters
    text = sentence * 10
    parts = split_paragraph(text, 50)
    assert [e - s for s, e in parts] == [44] * 5
    assert all(text[e - 1] == "。" for _, e in parts)
    assert parts[0][0] == 0 and parts[-1][1] == len(text)


def test_a_short_last_part_joins_the_one_before() -> None:
    tail = "乙县新建道路十公里，改造桥梁两座。"  # 17 characters: less than 0.4 × the target
    text = "甲市全年新建道路一百二十公里，改造桥梁八座。" * 10 + tail
    parts = split_paragraph(text, 50)
    assert len(parts) == 5
    assert parts[-1] == (176, len(text))


def test_spaces_do_not_count_so_a_letter_spaced_copy_is_cut_at_the_same_sentences() -> None:
    sentences = [
        "甲市全年新建道路一百二十公里，改造桥梁八座。",
        "乙县新增就业三千人。",
        "丙镇完成老旧小区改造十个，惠及居民两千户。",
    ] * 4
    clean = "".join(sentences)
    spaced = " ".join(clean)
    cut_clean = [re.sub(r"\s", "", clean[s:e]) for s, e in split_paragraph(clean, 40)]
    cut_spaced = [re.sub(r"\s", "", spaced[s:e]) for s, e in split_paragraph(spaced, 40)]
    assert len(cut_clean) > 1 and cut_spaced == cut_clean


def test_cap_length_leaves_a_part_within_the_hard_maximum() -> None:
    text = "甲" * (HARD_MAX * 50)
    assert cap_length(text, 0, len(text), 50) == [(0, len(text))]
    assert len(cap_length(text + "甲", 0, len(text) + 1, 50)) > 1


def test_cap_length_cuts_a_sentence_without_stops_after_clause_marks() -> None:
    text = "甲市新建道路一百二十公里，" * 40
    cuts = cap_length(text, 0, len(text), 30)
    assert all(text[e - 1] == "，" for _, e in cuts)
    assert all(e - s <= 36 for s, e in cuts)
    assert cuts[0][0] == 0 and cuts[-1][1] == len(text)


def test_cap_length_never_cuts_inside_a_figure() -> None:
    text = "甲市常住人口增长4.6万人乙县常住人口增长3.2万人" * 30
    cuts = cap_length(text, 0, len(text), 60)
    assert len(cuts) > 1
    for _, e in cuts[:-1]:
        assert not (re.match(r"[\d.]", text[e - 1]) and re.match(r"[\d.]", text[e]))


def test_para_text_drops_markdown_marks_and_keeps_each_character_offset() -> None:
    texts = [para_text(p) for p in paras_of(MD)]
    assert [t for t, _ in texts] == [
        "一、甲市交通",
        "全年乙县新建道路。",
        "- 新建道路\n- 改造桥梁",
        "丙镇改造桥梁八座。",
        "二、甲市民生",
        "丁村新增就业三百人。",
    ]
    for t, offs in texts:
        assert len(offs) == len(t)
        assert "".join(MD[o] for o in offs) == t  # a list's line break maps to the line break of the file


def test_make_pieces_numbers_paragraphs_within_their_section() -> None:
    pieces = make_pieces(paras_of(MD), 300)
    assert [(pc.number, pc.part) for pc in pieces] == [(0, 0), (1, 0), (2, 0), (3, 0), (0, 0), (1, 0)]
    assert pieces[1].spans == [
        (MD.index("全年"), MD.index("全年") + 2),
        (MD.index("乙县"), MD.index("乙县") + 2),
        (MD.index("新建道路。"), MD.index("新建道路。") + 5),
    ]


def test_make_pieces_numbers_the_parts_of_a_split_paragraph() -> None:
    text = "## 一、甲市交通\n" + "甲市全年新建道路一百二十公里，改造桥梁八座。" * 10 + "\n"
    pieces = make_pieces(paras_of(text), 50)
    assert [(pc.number, pc.part) for pc in pieces] == [(0, 0), (1, 1), (1, 2), (1, 3), (1, 4), (1, 5)]
    assert "".join(pc.text for pc in pieces[1:]) == "甲市全年新建道路一百二十公里，改造桥梁八座。" * 10
