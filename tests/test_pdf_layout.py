"""PDF layout rules without a PDF: page-number shapes, joining words across a line break,
compatibility ideographs folded. Whole files are read in tests/test_pdf.py."""

from __future__ import annotations

import pytest

from rag.read.pdf_layout import PAGE_NUMBER_RE, fold_compat, glue


@pytest.mark.parametrize("pattern", ["— 3 —", "- 3 -", "第3页", "第 3 页 共 20 页", "3", "－１２－", "3/20"])
def test_page_number_shapes(pattern: str) -> None:
    assert PAGE_NUMBER_RE.match(pattern)


@pytest.mark.parametrize("text", ["2025年", "一、总体要求", "第三章", "3.5亿元"])
def test_body_lines_are_not_page_numbers(text: str) -> None:
    assert not PAGE_NUMBER_RE.match(text)


def test_latin_words_keep_their_space() -> None:
    assert glue("甲市推进", "数字政府") == "甲市推进数字政府"
    assert glue("the digital", "government") == "the digital government"
    assert glue("资金", "79.9亿元") == "资金79.9亿元"


def test_compatibility_ideographs_fold_and_punctuation_stays():
    assert fold_compat("⽇均，（甲市）") == "日均，（甲市）"
    assert fold_compat("⼈⼝") == "人口"
