"""The words of the prompts and of the assistant's own replies."""

from __future__ import annotations

from rag.answer.context import Passage
from rag.answer.prompts import (
    EXAMPLES,
    REFUSAL_EN,
    REFUSAL_ZH,
    STRICT_PROMPT_ZH,
    SYSTEM_PROMPT_ZH,
    build_messages,
    is_refusal,
    match_script,
    quoted_answer,
    refusal_text,
)
from rag.chunk.quote import ContextSentence


class _Chunk:
    place, period, year = "甲市", None, 2024


SENT = ContextSentence(1, "c1", "全年新增城镇就業1.2萬人。", 0, 12, 1.0)
PASSAGES = [Passage(1, "c1", "甲市·2024年·（二）民生", [SENT])]


def test_a_chinese_question_gets_the_system_prompt_the_examples_and_the_passages_last():
    msgs = build_messages("甲市今年新增就业多少人？", PASSAGES)
    assert msgs[0] == {"role": "system", "content": SYSTEM_PROMPT_ZH} and msgs[1:-1] == EXAMPLES
    assert msgs[-1]["content"].startswith("资料：\n[1]（甲市·2024年·（二）民生）全年新增城镇就業1.2萬人。")
    assert msgs[-1]["content"].endswith("问题：甲市今年新增就业多少人？")


def test_the_fixed_prefix_is_the_same_for_every_question():
    a, b = build_messages("甲市今年新增就业多少人？", PASSAGES), build_messages("乙县的目标是什么？", [])
    assert a[:-1] == b[:-1]


def test_english_and_retries_use_the_strict_prompt_without_examples():
    english = build_messages("How many jobs did Jia City add?", PASSAGES)
    assert english[0]["content"] == STRICT_PROMPT_ZH and len(english) == 2 and "问题（英文）" in english[1]["content"]
    strict = build_messages("甲市今年新增就业多少人？", PASSAGES, strict=True)
    assert strict[0]["content"].startswith(STRICT_PROMPT_ZH) and len(strict) == 2


def test_refusals_are_recognised_in_both_languages():
    assert is_refusal(REFUSAL_ZH) and is_refusal("资料中未提及。") and is_refusal(REFUSAL_EN) and is_refusal("  ")
    assert not is_refusal("甲市今年新增就业1.2万人。")


def test_the_answer_follows_the_question_script_but_quotes_stay_as_written():
    assert (
        match_script("甲市今年新增就業多少人？", "甲市新增就业「新增城镇就业1.2万人」", False)
        == "甲市新增就業「新增城镇就业1.2万人」"
    )
    assert (
        match_script("甲市今年新增就业多少人？", "甲市新增就業「新增城鎮就業」", False)
        == "甲市新增就业「新增城鎮就業」"
    )
    assert match_script("How many?", "就業", True) == "就業"


def test_a_refusal_cites_what_the_reports_say_nearby():
    zh = refusal_text("甲市今年新增就业多少人？", False, SENT, _Chunk())
    assert zh == "资料中未提及。报告中相关的内容（甲市·2024年）：「全年新增城镇就業1.2萬人。」[1]"
    assert refusal_text("How many jobs?", True, SENT, _Chunk()).startswith(
        REFUSAL_EN + " Nearby, the reports say (甲市·2024年)"
    )
    assert refusal_text("甲市今年新增就业多少人？", False) == "资料中未提及。"


def test_the_quoted_answer_keeps_the_source_script():
    assert quoted_answer("甲市今年新增就業多少人？", False, SENT) == "據報告：「全年新增城镇就業1.2萬人。」[1]"
    assert quoted_answer("How many jobs?", True, SENT) == "The reports say: 「全年新增城镇就業1.2萬人。」[1]"


def test_the_translation_is_told_how_the_reports_write_the_places():
    from rag.answer.prompts import question_to_chinese

    user = question_to_chinese("How many jobs did Dai County add?", {"dai county": "代县"})[-1]["content"]
    assert user.endswith("（地名：dai county = 代县）")
    assert question_to_chinese("How many jobs?")[-1]["content"] == "How many jobs?"
