"""Numbering: Chinese numerals, the numbering that opens a heading, note markers."""

from __future__ import annotations

import pytest

from rag.read.numbering import NOTE_MARK_RE, cn_to_int, enum_prefix, int_to_cn


@pytest.mark.parametrize(
    "cn, n", [("一", 1), ("九", 9), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23), ("九十九", 99), ("", 0)]
)
def test_cn_to_int(cn: str, n: int) -> None:
    assert cn_to_int(cn) == n


def test_int_to_cn_is_the_inverse_of_cn_to_int() -> None:
    assert [int_to_cn(n) for n in (1, 10, 11, 20, 35)] == ["一", "十", "十一", "二十", "三十五"]
    for n in range(1, 100):
        assert cn_to_int(int_to_cn(n)) == n


@pytest.mark.parametrize(
    "text, expected",
    [
        ("三、加快建设甲市新区", ("cn", 3, 2)),
        ("（十二）推进乙县农村改革", ("paren", 12, 4)),
        ("(四)稳定就业", ("paren", 4, 3)),
        ("7.完善丙镇供水", ("arabic", 7, 2)),
        ("12、扩大开放", ("arabic", 12, 3)),
    ],
)
def test_enum_prefix_reads_style_number_and_prefix_length(text: str, expected: tuple) -> None:
    assert enum_prefix(text) == expected


@pytest.mark.parametrize("text", ["3.5亿元用于甲市道路", "加快建设一、二期工程", "一是稳增长", "2024年甲市"])
def test_enum_prefix_ignores_figures_and_numbers_inside_the_text(text: str) -> None:
    assert enum_prefix(text) == ("", None, 0)


def test_note_markers_in_every_bracket_style() -> None:
    text = "推进甲乙工程［3］和丙丁行动[12]，完成戊己计划^【7】。"
    assert NOTE_MARK_RE.findall(text) == ["3", "12", "7"]
    assert NOTE_MARK_RE.findall("甲市GDP增长5%（预计）") == []
