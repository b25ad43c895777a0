"""The shared keyword tokenizer (rag/search/text.py): invented report sentences, real jieba."""

from __future__ import annotations

from rag.search.text import tokenize


def test_figures_stay_with_their_units():
    tokens = tokenize("乙县城镇新增就业1.8万人，增长5.2%。")
    assert {"1.8万人", "5.2%"} <= set(tokens)
    assert "53家" in tokenize("甲市新认定高新技术企业53家以上。")


def test_report_vocabulary_is_kept_whole_without_changing_global_jieba():
    import jieba

    assert "高新技术企业" in tokenize("甲市新认定高新技术企业53家以上。")
    assert "城镇新增就业" in tokenize("乙县城镇新增就业1.8万人")
    assert "高新技术企业" not in jieba.lcut("甲市高新技术企业")  # the global tokenizer has no report words


def test_function_and_question_words_are_dropped():
    assert tokenize("今年的目标是什么") == ["目标"]
    assert tokenize("的 了 吗") == []


def test_latin_is_lowercased_and_a_lone_digit_is_no_figure():
    tokens = tokenize("甲市GDP增长")
    assert "gdp" in tokens and "GDP" not in tokens
    assert tokenize("第3项").count("3") == 1  # jieba's word only: a single digit is not added as a figure
    assert "3项" in tokenize("第3项")
