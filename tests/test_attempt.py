"""Answering with every figure checked (rag/answer/attempt.py), branch by branch, with a scripted model
on the real corpus index: questions in parts answered each from its own report, a part the
library lacks, a reply with the other part's figure retried, yes/no settled against the figure."""

import pytest
from scripted_llm import scripted


@pytest.fixture(scope="module")
def assistant(corpus_index, corpus_retriever):
    from rag.answer.assistant import Assistant

    return Assistant(corpus_index, corpus_retriever)


def test_a_target_and_its_result_come_from_their_own_reports(assistant):
    llm = scripted(assistant, ["广东2025年地区生产总值增长目标是5%左右。", "广东2025年地区生产总值增长3.9%。"])
    ans = assistant.ask("广东2025年地区生产总值增长目标是多少？实际增长了多少？")
    assert not ans.refused, ans.notes
    assert "5%左右" in ans.answer and "3.9%" in ans.answer
    assert "低于目标1.1个百分点" in ans.answer, "the verdict is computed, not generated"
    assert {c.doc for c in ans.citations} == {"07_province_guangdong_2025", "15_province_guangdong_2026"}
    assert len(llm.prompts) == 2
    # the second part is a turn of the same conversation, with its own passages from the 2026 report
    second = llm.prompts[1]
    assert second[-2] == {"role": "assistant", "content": "广东2025年地区生产总值增长目标是5%左右。"}
    assert "广东省·2025年" in second[-1]["content"]


def test_a_place_the_library_lacks_is_named_and_the_rest_answered(assistant):
    llm = scripted(assistant, ["广东2026年地区生产总值增长目标是4.5%—5%。"])
    ans = assistant.ask("广东和江苏2026年GDP增长目标分别是多少？")
    assert not ans.refused and "4.5%—5%" in ans.answer
    assert "江苏：资料中没有江苏的报告" in ans.answer
    assert len(llm.prompts) == 1, "the missing part costs no generation"


def test_a_reply_with_the_other_places_figure_is_retried(assistant):
    llm = scripted(
        assistant,
        [
            "北京2026年地区生产总值增长目标是6%左右。",
            "北京2026年地区生产总值增长5%左右。",
            "海南2026年地区生产总值增长6%左右。",
        ],
    )
    ans = assistant.ask("北京和海南2026年的GDP增长目标哪个更高？")
    assert not ans.refused, ans.notes
    assert any("retried" in n for n in ans.notes)
    assert len(llm.prompts) == 3
    assert "海南（6%左右）高于北京（5%左右）" in ans.answer


def test_yes_no_about_a_figure_is_settled_in_code(assistant):
    scripted(assistant, ["广东2026年地区生产总值增长目标为4.5%—5%。"])
    ans = assistant.ask("广东2026年的GDP增长目标是否超过5%？")
    assert ans.answer.startswith("否。"), ans.answer
    scripted(assistant, ["广东2026年地区生产总值增长目标为4.5%—5%。"])
    assert assistant.ask("广东2026年的GDP增长目标是否超过4%？").answer.startswith("是。")


def test_a_part_whose_reply_cannot_be_verified_is_answered_by_its_reports_sentence(assistant):
    scripted(
        assistant,
        [
            "宁夏2026年地区生产总值增长目标是5%左右。",
            "海南2026年地区生产总值增长目标是9.9%。",
            "海南2026年地区生产总值增长目标是9.9%。",
        ],
    )
    ans = assistant.ask("宁夏和海南2026年的地区生产总值增长目标分别是多少？")
    assert "5%左右" in ans.answer and "9.9%" not in ans.answer, ans.answer
    # the unverified reply is dropped; the part is answered by the sentence of 海南's 2026 report, quoted
    assert "海南：据报告「" in ans.answer and "6%左右" in ans.answer, ans.answer
    assert "10_province_hainan_2026" in {c.doc for c in ans.citations}
    assert any("showing the sentence" in n for n in ans.notes)


def test_a_part_the_model_refuses_is_answered_by_the_sentence_that_holds_its_figure(assistant):
    scripted(assistant, ["广东2025年规模以上工业增加值计划增长6%左右。", "资料中未提及。"])
    ans = assistant.ask("广东2025年规模以上工业增加值计划增长多少，实际增长多少？")
    assert not ans.refused and "6%左右" in ans.answer, ans.answer
    assert "增加值增长3%" in ans.answer, (ans.answer, ans.notes)
    assert "资料中未提及" not in ans.answer
    assert {c.doc for c in ans.citations} == {"07_province_guangdong_2025", "15_province_guangdong_2026"}


def test_a_part_nothing_answers_is_said_to_be_unanswered(assistant):
    scripted(assistant, ["宁夏2026年地区生产总值增长目标是5%左右。", "资料中未提及。"])
    ans = assistant.ask("宁夏2026年地区生产总值增长目标是多少？宁夏有多少只大熊猫？")
    assert "5%左右" in ans.answer
    assert "资料中未提及" in ans.answer, ans.answer


def test_an_english_question_in_parts_is_planned_in_chinese(assistant):
    llm = scripted(
        assistant,
        [
            "广东和宁夏2025年地区生产总值分别增长多少？",
            "广东2025年地区生产总值增长3.9%。",
            "宁夏2025年地区生产总值增长5.3%。",
            "In 2025 Guangdong grew 3.9% (3.9%) and Ningxia 5.3% (5.3%).",
        ],
    )
    ans = assistant.ask("How fast did the GDP of Guangdong and Ningxia grow in 2025?")
    assert not ans.refused, ans.notes
    assert ans.answer.startswith("In 2025 Guangdong grew 3.9%") and "5.3%" in ans.answer
    assert {c.doc for c in ans.citations} == {"15_province_guangdong_2026", "16_province_ningxia_2026"}
    assert "guangdong = 广东省" in llm.prompts[0][-1]["content"], "the translation is told the places"
    assert len(llm.prompts) == 4


def test_a_follow_up_that_repeats_the_first_parts_figure_is_asked_again(assistant):
    llm = scripted(
        assistant,
        ["宁夏2025年地区生产总值5696亿元。", "宁夏2025年地区生产总值5696亿元。", "宁夏2025年地区生产总值增长5.3%。"],
    )
    ans = assistant.ask("宁夏2025年地区生产总值是多少？增长了多少？")
    assert "5696亿元" in ans.answer and "5.3%" in ans.answer, (ans.answer, ans.notes)
    assert any("asked again" in n for n in ans.notes)
    assert "这一问与上一问问的不是同一个数字" in llm.prompts[2][-1]["content"]


def test_a_listed_target_is_no_answer_to_what_a_year_achieved(assistant):
    # the 2026 report reviews 2025 and sets 2026's targets: 「居民消费价格增长2%左右」 is an item of the
    # list 「主要预期目标是：…」, a plan though the item itself names none
    scripted(assistant, ["海南2025年居民消费价格增长2%左右。", "海南2025年居民消费价格增长2%左右。"])
    ans = assistant.ask("海南2025年的居民消费价格涨幅是多少？")
    assert "2%左右" not in ans.answer, (ans.answer, ans.notes)
    assert "CPI微降0.1%" in ans.answer, "a rate asked by 涨幅 is answered by the sentence that says 微降"


def test_a_yes_no_question_the_reports_deny_is_answered_no(assistant):
    # 「GDP增长目标」 in the question, 「经济增速具体目标」 in the report: the everyday words for GDP growth
    scripted(assistant, ["资料中未提及。", "资料中未提及。"])
    ans = assistant.ask("2020年政府工作报告是否提出了全年GDP增长目标？")
    assert ans.answer.startswith("否。") and "没有提出全年经济增速具体目标" in ans.answer, (ans.answer, ans.notes)
    assert {c.doc for c in ans.citations} == {"02_national_2020"}


def test_a_year_the_library_has_no_report_of_is_named_and_the_rest_answered(assistant):
    llm = scripted(assistant, ["广东2025年地区生产总值增长目标是5%左右。"])
    ans = assistant.ask("广东2023年和2025年的GDP增长目标分别是多少？")
    assert "5%左右" in ans.answer and "资料中没有广东2023年的报告" in ans.answer, ans.answer
    assert len(llm.prompts) == 1, "the missing year costs no generation"
