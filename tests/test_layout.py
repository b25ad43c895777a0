"""Layout: content lines with their offsets and breaks; narrow newspaper columns told from wide text."""

from __future__ import annotations

from rag.chunk.clean import find_markers
from rag.chunk.layout import detect_narrow, split_lines


def test_lines_keep_their_offsets_and_note_blank_lines() -> None:
    text = "甲市政府工作报告\n\n  一、过去一年工作回顾  \n全市经济稳中有进。\n"
    lines = split_lines(text, [])
    assert [ln.text for ln in lines] == ["甲市政府工作报告", "一、过去一年工作回顾", "全市经济稳中有进。"]
    for ln in lines:
        assert text[ln.start : ln.end] == ln.text
    assert [ln.blank_before for ln in lines] == [False, True, False]
    assert [ln.hard_before for ln in lines] == [True, False, False]  # the file start is a hard break


def test_a_page_marker_is_cut_out_and_leaves_a_hard_break() -> None:
    text = "乙县全年新建道路（下转第3版）\n120公里，改造桥梁8座。"
    markers = find_markers(text)
    lines = split_lines(text, markers)
    assert [ln.text for ln in lines] == ["乙县全年新建道路", "120公里，改造桥梁8座。"]
    assert lines[1].hard_before and not lines[1].blank_before
    assert all("转" not in ln.text for ln in lines)


def test_a_marker_inside_a_line_splits_it() -> None:
    text = "丙镇新增就业（上接第1版）三千人。"
    lines = split_lines(text, find_markers(text))
    assert [(ln.text, ln.hard_before) for ln in lines] == [("丙镇新增就业", True), ("三千人。", True)]
    assert text[lines[1].start : lines[1].end] == "三千人。"


def _column(width: int, n: int) -> list[str]:
    body = "甲市坚持稳中求进工作总基调完整准确全面贯彻新发展理念加快构建新发展格局着力推动高质量发展" * 20
    return [body[i * width : (i + 1) * width] for i in range(n)]


def test_narrow_columns_are_detected_with_their_width() -> None:
    lines = split_lines("\n".join(_column(14, 30)), [])
    narrow, col = detect_narrow(lines)
    assert narrow
    assert col == 28  # display width: 14 Chinese characters


def test_wide_lines_are_not_narrow() -> None:
    lines = split_lines("\n".join(_column(60, 30)), [])
    assert detect_narrow(lines)[0] is False


def test_too_few_lines_say_nothing_about_the_layout() -> None:
    assert detect_narrow(split_lines("\n".join(_column(14, 11)), [])) == (False, 0)
