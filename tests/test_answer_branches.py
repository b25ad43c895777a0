"""Every way `Assistant.ask` answers, each reached with a scripted model on the seed index (five
reports of 2024: 忻州, 朔州 twice, 太原, 代县) and the real embedder, no weights.

Each test scripts the replies the model gives, in order, and checks what a reader sees: the
answer, its citations, whether it was refused, and how many prompts the model was sent (a branch
that should cost no generation must send none). The figures are those of the seed reports:
朔州 2024 targets 地区生产总值增长5%以上, 固定资产投资增长10.5%以上 and reviews 2023 (地区生产总值
增长4.7%, 规上工业增加值增长4%, 社会消费品零售总额增长5.8%, 固定资产投资增长1.6%); 代县 2024
targets 地区生产总值增长5%左右, 固定资产投资增长13%左右, 城镇新增就业人数3100人; 太原 says
「连续三年未发生重大及以上生产安全事故」."""

from __future__ import annotations

import threading

import pytest
from scripted_llm import scripted

from rag.answer.prompts import REPEAT_HINT, STRICT_SUFFIX

SHUOZHOU, SHUOZHOU_TRADITIONAL, TAIYUAN, DAIXIAN = (
    "003_4ca470a0a2d501aa",
    "001_cdd563ffef68d5a8",
    "002_6444904a722c13e8",
    "004_d43a798d97625b5b",
)
REFUSED = "资料中未提及。"
REFUSED_EN = "The reports do not say."
INVESTMENT_TARGETS = "朔州和代县2024年固定资产投资增长目标分别是多少？"


@pytest.fixture(scope="module")
def assistant(seed_index, retriever):
    from rag.answer.assistant import Assistant

    return Assistant(seed_index, retriever)


def docs(ans) -> set[str]:
    return {c.doc for c in ans.citations}


# --- one question ---------------------------------------------------------------------------------
def test_a_verified_reply_is_the_answer_with_its_citation(assistant):
    llm = scripted(assistant, ["代县2024年城镇新增就业人数目标是3100人。"])
    ans = assistant.ask("代县2024年城镇新增就业人数目标是多少？")
    assert ans.answer == "代县2024年城镇新增就业人数目标是3100人。[1]"
    assert not ans.refused and not ans.extractive and ans.verified
    assert docs(ans) == {DAIXIAN} and "3100人" in ans.citations[0].quote
    assert len(llm.prompts) == 1 and ans.notes == []


def test_a_reply_with_a_figure_the_reports_lack_is_retried_with_the_stricter_prompt(assistant):
    llm = scripted(assistant, ["代县2024年城镇新增就业人数目标是4200人。", "代县2024年城镇新增就业人数目标是3100人。"])
    ans = assistant.ask("代县2024年城镇新增就业人数目标是多少？")
    assert ans.answer == "代县2024年城镇新增就业人数目标是3100人。[1]", ans.notes
    assert "unsupported figure(s) 4200; retried with a stricter prompt" in ans.notes
    assert len(llm.prompts) == 2
    assert not llm.prompts[0][0]["content"].endswith(STRICT_SUFFIX)
    assert llm.prompts[1][0]["content"].endswith(STRICT_SUFFIX), "the retry is told every figure must be quoted"


def test_a_retry_the_model_refuses_falls_back_to_the_sentence_that_answers(assistant):
    llm = scripted(assistant, ["代县2024年城镇新增就业人数目标是4200人。", REFUSED])
    ans = assistant.ask("代县2024年城镇新增就业人数目标是多少？")
    assert ans.answer == "据报告：「城镇新增就业人数3100人;」[1]"
    assert ans.extractive and not ans.verified and not ans.refused
    assert docs(ans) == {DAIXIAN} and len(llm.prompts) == 2
    assert "4200" not in ans.answer


def test_a_question_the_model_leaves_unanswered_is_answered_by_the_reports_sentence(assistant):
    llm = scripted(assistant, [REFUSED])
    ans = assistant.ask("代县2024年城镇新增就业人数目标是多少？")
    assert ans.answer == "据报告：「城镇新增就业人数3100人;」[1]" and ans.extractive
    assert ans.notes == ["the model found no answer; showing the sentence of the reports that answers it"]
    assert len(llm.prompts) == 1, "a refusal is not retried"


def test_a_reply_without_a_figure_to_a_how_much_question_is_replaced_by_the_sentence(assistant):
    scripted(assistant, ["代县将千方百计扩大城镇就业。"])
    ans = assistant.ask("代县2024年城镇新增就业人数目标是多少？")
    assert ans.answer == "据报告：「城镇新增就业人数3100人;」[1]"
    assert "the passages give no figure for what the question asks how much of" in ans.notes


def test_a_reply_in_another_unit_than_asked_is_not_kept(assistant):
    # 「多少亿元」 answered by 「211个项目」: the count of projects, not their investment
    llm = scripted(assistant, ["朔州2023年集中签约、开工、投产211个项目。"])
    ans = assistant.ask("朔州2023年集中签约、开工、投产项目总投资是多少亿元？")
    assert ans.refused and ans.answer.startswith("资料中未提及。"), ans.answer
    assert "the passages give no figure in the unit the question asks for" in ans.notes
    assert "总投资384.7亿元" in ans.answer, "the refusal shows what the reports say nearby"
    assert len(llm.prompts) == 1


def test_a_reply_with_another_indicators_figure_is_not_kept(assistant):
    # 4.7% is in the sentence, but said of 地区生产总值; the sentence says 固定资产投资增长1.6%
    scripted(assistant, ["朔州2023年固定资产投资增长4.7%。"])
    ans = assistant.ask("朔州2023年固定资产投资增长多少？")
    assert ans.refused and not ans.answer.startswith("朔州2023年固定资产投资增长4.7%"), ans.answer
    assert "the passages give the figure for another indicator or for a span of years" in ans.notes
    assert docs(ans) == {SHUOZHOU_TRADITIONAL}


def test_a_reply_about_another_year_than_asked_is_refused(assistant):
    # the one report of 代县 sets 2024's targets; it says nothing of 2023's new jobs
    llm = scripted(assistant, ["代县2023年城镇新增就业人数3100人。"])
    ans = assistant.ask("代县2023年城镇新增就业人数是多少？")
    assert ans.refused and ans.answer.startswith("资料中未提及。"), ans.answer
    assert ans.notes == ["refused: no passage for the place and year asked about supports an answer"]
    assert len(llm.prompts) == 1


@pytest.mark.parametrize(
    "question, reason",
    [
        ("忻州2024年有多少只大熊猫？", "refused: none of the question's key terms occurs in the retrieved passages"),
        ("晋城2024年GDP增长目标是多少？", "refused: the reports say nothing about 晋城"),
    ],
)
def test_a_question_the_reports_do_not_answer_is_refused_without_the_model(assistant, question, reason):
    llm = scripted(assistant, [])
    ans = assistant.ask(question)
    assert ans.refused and ans.answer.startswith("资料中未提及。")
    assert ans.notes == [reason]
    assert llm.prompts == []


# --- yes or no ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bound, verdict", [("15%", "否。"), ("10%", "是。")])
def test_yes_no_against_a_stated_figure_is_settled_in_code(assistant, bound, verdict):
    scripted(assistant, ["代县2024年固定资产投资增长目标是13%左右。"])
    ans = assistant.ask(f"代县2024年固定资产投资增长目标是否超过{bound}？")
    assert ans.answer == verdict + "代县2024年固定资产投资增长目标是13%左右。[1]"
    assert docs(ans) == {DAIXIAN}


def test_yes_no_against_a_figure_in_another_unit_is_left_to_the_reply(assistant):
    # 「是否超过10亿元」 of a growth rate: a rate and an amount are not compared
    scripted(assistant, ["代县2024年固定资产投资增长目标是13%左右。"])
    ans = assistant.ask("代县2024年固定资产投资增长目标是否超过10亿元？")
    assert ans.answer == "代县2024年固定资产投资增长目标是13%左右。[1]"


def test_yes_no_the_cited_sentence_confirms_is_not_turned_into_no(assistant):
    scripted(assistant, ["太原连续三年未发生重大及以上生产安全事故。"])
    ans = assistant.ask("太原是否连续三年未发生重大及以上生产安全事故？")
    assert not ans.answer.startswith("否") and "太原连续三年未发生重大及以上生产安全事故。[1]" in ans.answer
    assert docs(ans) == {TAIYUAN} and ans.notes == []


def test_yes_no_the_model_leaves_open_is_settled_on_the_quoted_sentence(assistant):
    scripted(assistant, [REFUSED])
    ans = assistant.ask("代县2024年固定资产投资增长目标是否超过10%？")
    assert ans.answer == "是。据报告：「固定资产投资增长13%左右;」[1]"
    assert ans.extractive


def test_yes_no_whose_cited_sentence_states_another_figure_is_answered_no(assistant):
    scripted(assistant, ["太原连续三年未发生重大及以上生产安全事故。"])
    ans = assistant.ask("太原是否连续五年未发生重大及以上生产安全事故？")
    assert ans.answer == "否。报告中是三年：太原连续三年未发生重大及以上生产安全事故。[1]"
    assert "the cited sentence says 三年, not what the question states" in ans.notes
    assert docs(ans) == {TAIYUAN}


def test_yes_no_the_reports_deny_is_answered_no_with_the_denial(assistant):
    llm = scripted(assistant, [REFUSED])
    ans = assistant.ask("太原2023年是否发生了重大生产安全事故？")
    assert ans.answer == "否。据报告：「连续三年未发生重大及以上生产安全事故，」[1]"
    assert ans.notes == ["the model found no answer; the reports say no"]
    assert docs(ans) == {TAIYUAN} and len(llm.prompts) == 1


# --- a question in parts --------------------------------------------------------------------------------
def test_two_places_are_compared_in_code(assistant):
    first = "朔州2024年固定资产投资增长目标是10.5%以上。"
    llm = scripted(assistant, [first, "代县2024年固定资产投资增长目标是13%左右。"])
    ans = assistant.ask("朔州和代县2024年固定资产投资增长目标哪个更高？")
    assert ans.answer.endswith("\n代县（13%左右）高于朔州（10.5%以上），相差2.5个百分点。"), ans.answer
    assert ans.answer.startswith(first[:-1] + "。[1]\n")
    assert docs(ans) == {SHUOZHOU, DAIXIAN}
    assert len(llm.prompts) == 2
    # the second part is a turn of the same conversation, with the passages of 代县's report
    assert llm.prompts[1][-2] == {"role": "assistant", "content": first}
    assert "代县·2024年" in llm.prompts[1][-1]["content"]


def test_a_yes_no_comparison_leads_with_the_verdict(assistant):
    scripted(assistant, ["朔州2024年固定资产投资增长目标是10.5%以上。", "代县2024年固定资产投资增长目标是13%左右。"])
    ans = assistant.ask("朔州2024年固定资产投资增长目标比代县高吗？")
    assert ans.answer.startswith("否。朔州"), ans.answer
    assert ans.answer.endswith("代县（13%左右）高于朔州（10.5%以上），相差2.5个百分点。")


def test_a_figure_asked_of_two_years_is_put_side_by_side(assistant):
    scripted(assistant, ["朔州2023年规上工业增加值增长4%。", "朔州2024年规上工业增加值增长目标是4%。"])
    ans = assistant.ask("朔州2023年和2024年的规上工业增加值增长有什么变化？")
    assert ans.answer.endswith("\n2023年与2024年相同，均为4%。"), ans.answer
    assert docs(ans) == {SHUOZHOU_TRADITIONAL}


def test_a_target_and_another_years_result_get_no_verdict(assistant):
    llm = scripted(assistant, ["朔州2024年地区生产总值增长目标是5%以上。", "朔州2023年地区生产总值增长4.7%。"])
    ans = assistant.ask("朔州2024年地区生产总值增长目标是多少？2023年实际增长了多少？")
    assert ans.answer == "朔州2024年地区生产总值增长目标是5%以上。[1]\n朔州2023年地区生产总值增长4.7%。[2]"
    assert "目标" not in ans.answer.splitlines()[-1], "2023's result is not judged against 2024's target"
    assert docs(ans) == {SHUOZHOU, SHUOZHOU_TRADITIONAL} and len(llm.prompts) == 2


def test_a_place_the_library_lacks_is_named_and_costs_no_generation(assistant):
    llm = scripted(assistant, ["朔州2024年地区生产总值增长目标是5%以上。"])
    ans = assistant.ask("朔州和晋城2024年地区生产总值增长目标分别是多少？")
    assert ans.answer == "朔州2024年地区生产总值增长目标是5%以上。[1]\n（晋城：资料中没有晋城的报告。）"
    assert "part 2: no report of 晋城 in the library" in ans.notes
    assert len(llm.prompts) == 1


def test_a_year_the_library_lacks_is_named_and_costs_no_generation(assistant):
    llm = scripted(assistant, ["朔州2024年地区生产总值增长目标是5%以上。"])
    ans = assistant.ask("朔州2022年和2024年的GDP增长目标分别是多少？")
    assert ans.answer == "朔州2024年地区生产总值增长目标是5%以上。[1]\n（2022年：资料中没有朔州2022年的报告。）"
    assert len(llm.prompts) == 1


def test_a_part_repeating_the_earlier_parts_figure_is_asked_again(assistant):
    same = "朔州2023年固定资产投资增长1.6%。"
    llm = scripted(assistant, [same, same, "朔州2023年社会消费品零售总额增长5.8%。"])
    ans = assistant.ask("朔州2023年固定资产投资增长多少？社会消费品零售总额增长多少？")
    assert ans.answer == "朔州2023年固定资产投资增长1.6%。[1]\n朔州2023年社会消费品零售总额增长5.8%。[1]"
    assert "part 2 repeated the answer to an earlier part; asked again" in ans.notes
    assert len(llm.prompts) == 3
    assert llm.prompts[2][-1]["content"].endswith(REPEAT_HINT)
    assert llm.prompts[2][-2] == {"role": "assistant", "content": same}, "asked again after the first part"


def test_a_part_that_repeats_the_earlier_figure_again_is_left_unanswered(assistant):
    same = "朔州2023年固定资产投资增长1.6%。"
    llm = scripted(assistant, [same, same, same])
    ans = assistant.ask("朔州2023年固定资产投资增长多少？社会消费品零售总额增长多少？")
    assert ans.answer == "朔州2023年固定资产投资增长1.6%。[1]\n（第2问：资料中未提及。）"
    assert len(llm.prompts) == 3


def test_a_parts_reply_is_retried_within_the_conversation(assistant):
    first = "朔州2024年固定资产投资增长目标是10.5%以上。"
    llm = scripted(
        assistant, [first, "代县2024年固定资产投资增长目标是15%。", "代县2024年固定资产投资增长目标是13%左右。"]
    )
    ans = assistant.ask(INVESTMENT_TARGETS)
    assert ans.answer == f"{first}[1]\n代县2024年固定资产投资增长目标是13%左右。[2]"
    assert "part 2: unsupported figure(s) 15; retried with a stricter prompt" in ans.notes
    assert len(llm.prompts) == 3
    strict = llm.prompts[2]
    assert strict[0]["content"].endswith(STRICT_SUFFIX)
    assert {"role": "assistant", "content": first} in strict, "the earlier part stays as it was said"


def test_a_parts_retry_the_model_refuses_is_answered_by_its_reports_sentence(assistant):
    scripted(
        assistant, ["朔州2024年固定资产投资增长目标是10.5%以上。", "代县2024年固定资产投资增长目标是15%。", REFUSED]
    )
    ans = assistant.ask(INVESTMENT_TARGETS)
    assert ans.answer.endswith("\n代县：据报告「固定资产投资增长13%左右」[2]"), ans.answer
    assert "15%" not in ans.answer
    assert docs(ans) == {SHUOZHOU, DAIXIAN}


def test_a_parts_reply_without_a_figure_is_answered_by_its_reports_sentence(assistant):
    scripted(assistant, ["朔州2024年固定资产投资增长目标是10.5%以上。", "代县将扩大有效投资。"])
    ans = assistant.ask(INVESTMENT_TARGETS)
    assert ans.answer.endswith("\n代县：据报告「固定资产投资增长13%左右」[2]"), ans.answer
    assert "part 2: the reply could not be verified against its passages" in ans.notes


def test_parts_the_model_refuses_are_answered_by_their_reports_sentences(assistant):
    llm = scripted(assistant, [REFUSED, REFUSED])
    ans = assistant.ask(INVESTMENT_TARGETS)
    assert ans.answer == "朔州：据报告「固定资产投资增长 10.5%以上」[1]\n代县：据报告「固定资产投资增长13%左右」[2]"
    assert not ans.refused and docs(ans) == {SHUOZHOU, DAIXIAN}
    assert len(llm.prompts) == 2


def test_a_part_nothing_answers_is_named_unanswered(assistant):
    scripted(assistant, ["代县2024年城镇新增就业人数目标是3100人。", REFUSED])
    ans = assistant.ask("代县2024年城镇新增就业人数目标是多少？代县有多少只大熊猫？")
    assert ans.answer == "代县2024年城镇新增就业人数目标是3100人。[1]\n（第2问：资料中未提及。）"


def test_a_question_no_part_of_which_is_answered_is_refused_without_the_model(assistant):
    llm = scripted(assistant, [])
    ans = assistant.ask("代县有多少只大熊猫？忻州有多少只东北虎？")
    assert ans.refused and ans.answer.startswith("资料中未提及。")
    assert ans.notes[-1] == "refused: no part of the question could be answered from the passages"
    assert llm.prompts == []


# --- cancelled --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "question, replies",
    [
        ("代县2024年城镇新增就业人数目标是多少？", ["代县2024年城镇新增就业人数目标是3100人。"]),
        (
            INVESTMENT_TARGETS,
            ["朔州2024年固定资产投资增长目标是10.5%以上。", "代县2024年固定资产投资增长目标是13%左右。"],
        ),
    ],
)
def test_a_cancelled_answer_stops_at_the_first_token_and_reports_nothing(assistant, question, replies):
    cancel = threading.Event()
    events: list[str] = []

    def on_event(kind: str, data) -> None:
        events.append(kind)
        if kind == "token":
            cancel.set()  # the client goes away as the first token arrives

    llm = scripted(assistant, replies)
    ans = assistant.ask(question, on_event=on_event, cancel=cancel)
    assert ans.notes == ["cancelled"] and ans.citations == [] and not ans.verified
    assert events.count("token") == 1 and "answer" not in events and "done" not in events
    assert len(llm.prompts) == 1


# --- English ---------------------------------------------------------------------------------------------
def test_an_english_question_is_answered_in_english(assistant):
    llm = scripted(assistant, ["Daixian's 2024 GDP growth target is about 5%."])
    ans = assistant.ask("What is Daixian's GDP growth target for 2024?")
    assert ans.answer == "Daixian's 2024 GDP growth target is about 5%.[1]"
    assert docs(ans) == {DAIXIAN} and len(llm.prompts) == 1
    assert "问题（英文）" in llm.prompts[0][-1]["content"]


def test_an_english_question_the_model_cannot_answer_is_answered_through_chinese(assistant):
    llm = scripted(
        assistant,
        [
            REFUSED_EN,
            "代县2024年地区生产总值增长目标是多少？",
            "代县2024年地区生产总值增长目标是5%左右。",
            "Daixian aims for GDP growth of about 5% in 2024.",
        ],
    )
    ans = assistant.ask("What is Daixian's GDP growth target for 2024?")
    assert ans.answer == "Daixian aims for GDP growth of about 5% in 2024. [1]"
    assert docs(ans) == {DAIXIAN} and len(llm.prompts) == 4
    assert "daixian = 代县" in llm.prompts[1][-1]["content"], "the translation is told the places"
    assert llm.prompts[2][-1]["content"].endswith("问题：代县2024年地区生产总值增长目标是多少？")
    assert llm.prompts[3][-1]["content"] == "代县2024年地区生产总值增长目标是5%左右。", "rendered without markers"


def test_an_english_rendering_that_changes_a_figure_gives_the_chinese_answer(assistant):
    scripted(
        assistant,
        [
            REFUSED_EN,
            "代县2024年地区生产总值增长目标是多少？",
            "代县2024年地区生产总值增长目标是5%左右。",
            "Daixian aims for GDP growth of about 6% in 2024.",
        ],
    )
    ans = assistant.ask("What is Daixian's GDP growth target for 2024?")
    assert ans.answer == "代县2024年地区生产总值增长目标是5%左右。[1]"
    assert ans.notes[-1] == "the English rendering changed a figure; the verified Chinese answer is shown"


def test_an_english_question_with_no_usable_translation_is_answered_by_the_quoted_sentence(assistant):
    llm = scripted(assistant, [REFUSED_EN, "Sorry."])
    ans = assistant.ask("What is Daixian's GDP growth target for 2024?")
    assert (
        ans.answer
        == "The reports say: 「统筹考虑各方面因素,今年经济社会发展主要预期指标是:地区生产总值增长5%左右;」[1]"
    )
    assert ans.extractive and len(llm.prompts) == 2


def test_an_english_question_in_parts_is_planned_and_composed_in_chinese(assistant):
    llm = scripted(
        assistant,
        [
            INVESTMENT_TARGETS,
            "朔州2024年固定资产投资增长目标是10.5%以上。",
            "代县2024年固定资产投资增长目标是13%左右。",
            "In 2024 Shuozhou targets fixed-asset investment growth above 10.5% and Daixian about 13%.",
        ],
    )
    ans = assistant.ask("What are the fixed-asset investment growth targets of Shuozhou and Daixian for 2024?")
    assert ans.answer == (
        "In 2024 Shuozhou targets fixed-asset investment growth above 10.5% and Daixian about 13%. [1][2]"
    )
    assert docs(ans) == {SHUOZHOU, DAIXIAN} and len(llm.prompts) == 4
    assert ans.notes == [f"answered in Chinese as 「{INVESTMENT_TARGETS}」, then translated"]
    # the parts are answered in Chinese, then the composed answer is rendered in English
    assert llm.prompts[3][-1]["content"] == (
        "朔州2024年固定资产投资增长目标是10.5%以上。\n代县2024年固定资产投资增长目标是13%左右。"
    )


def test_an_english_question_whose_translation_is_one_question_is_answered_as_one(assistant):
    reply = "Daixian's fixed-asset investment growth target for 2024 is about 13% (13%左右)."
    llm = scripted(assistant, ["代县2024年固定资产投资增长目标是多少？", reply])
    ans = assistant.ask("What are the fixed-asset investment growth targets of Shuozhou and Daixian for 2024?")
    assert ans.answer == reply + "[1]" and docs(ans) == {DAIXIAN}
    assert len(llm.prompts) == 2 and "问题（英文）" in llm.prompts[1][-1]["content"]


def test_an_english_question_no_part_of_whose_translation_is_answered_is_answered_as_one(assistant):
    # a translation that loses the topic: its parts are refused before the model
    reply = "Shuozhou targets growth above 10.5% (10.5%以上) and Daixian about 13% (13%左右)."
    llm = scripted(assistant, ["朔州和代县分别有多少只大熊猫？", reply])
    ans = assistant.ask("What are the fixed-asset investment growth targets of Shuozhou and Daixian for 2024?")
    assert ans.answer == reply + "[1][2]" and docs(ans) == {SHUOZHOU, DAIXIAN}
    assert "no part answered through the translation; answering the question as one" in ans.notes
    assert len(llm.prompts) == 2


def test_an_english_question_in_parts_with_no_usable_translation_is_answered_as_one(assistant):
    reply = "Shuozhou targets growth above 10.5% (10.5%以上) and Daixian about 13% (13%左右)."
    llm = scripted(assistant, ["Sorry.", reply])
    ans = assistant.ask("What are the fixed-asset investment growth targets of Shuozhou and Daixian for 2024?")
    assert ans.answer == reply + "[1][2]" and ans.notes == []
    assert len(llm.prompts) == 2


def test_a_place_the_translation_misspells_is_the_place_the_question_names(assistant):
    llm = scripted(
        assistant,
        [
            REFUSED_EN,
            "戴县2024年地区生产总值增长目标是多少？",  # 戴县: no such place in the library
            "代县2024年地区生产总值增长目标是5%左右。",
            "Daixian aims for GDP growth of about 5% in 2024.",
        ],
    )
    ans = assistant.ask("What is Daixian's GDP growth target for 2024?")
    assert ans.answer == "Daixian aims for GDP growth of about 5% in 2024. [1]" and docs(ans) == {DAIXIAN}
    assert llm.prompts[2][-1]["content"].endswith("问题：代县2024年地区生产总值增长目标是多少？")


def test_an_english_reply_with_a_figure_the_reports_lack_goes_through_chinese_not_a_retry(assistant):
    llm = scripted(
        assistant,
        [
            "Daixian's 2024 GDP growth target is about 6%.",
            "代县2024年地区生产总值增长目标是多少？",
            "代县2024年地区生产总值增长目标是5%左右。",
            "Daixian aims for GDP growth of about 5% in 2024.",
        ],
    )
    ans = assistant.ask("What is Daixian's GDP growth target for 2024?")
    assert ans.answer == "Daixian aims for GDP growth of about 5% in 2024. [1]"
    assert "unsupported figure(s) 6; not retried (the question is asked again through Chinese)" in ans.notes
    assert len(llm.prompts) == 4 and not any(p[0]["content"].endswith(STRICT_SUFFIX) for p in llm.prompts)


def test_an_english_question_with_no_dictionary_term_goes_through_chinese_first(assistant):
    from rag.answer.attempt import english_routes

    plan = assistant.retriever.analyse("What is Daixian's GDP growth target for 2024?")
    assert plan.english_terms and english_routes(plan) == ["direct", "chinese"]
    plan.english_terms = []
    assert english_routes(plan) == ["chinese", "direct"]


# --- the time budget ---------------------------------------------------------------------------------------
@pytest.fixture
def no_time(seed_index, retriever):
    """An assistant whose time budget is spent before the first token: one generation at most."""
    from rag.answer.assistant import Assistant

    return Assistant(seed_index.model_copy(update={"answer_budget_s": 0.0}), retriever)


def test_a_spent_budget_answers_with_the_sentence_instead_of_a_retry(no_time):
    llm = scripted(no_time, ["代县2024年城镇新增就业人数目标是4200人。", "代县2024年城镇新增就业人数目标是3100人。"])
    ans = no_time.ask("代县2024年城镇新增就业人数目标是多少？")
    assert ans.answer == "据报告：「城镇新增就业人数3100人;」[1]" and ans.extractive
    assert len(llm.prompts) == 1 and ans.timings["budget_spent"]
    assert any(n.startswith("time budget of 0 s spent") and n.endswith("the retry skipped") for n in ans.notes)


def test_a_spent_budget_answers_the_later_parts_from_their_sentences(no_time):
    first = "朔州2024年固定资产投资增长目标是10.5%以上。"
    llm = scripted(no_time, [first, "代县2024年固定资产投资增长目标是13%左右。"])
    ans = no_time.ask(INVESTMENT_TARGETS)
    assert len(llm.prompts) == 1, "the second part costs no generation"
    assert ans.answer.startswith(f"{first}[1]\n") and "13%左右" in ans.answer
    assert docs(ans) == {SHUOZHOU, DAIXIAN}
    assert "part 2: showing the sentence of its report that answers it" in ans.notes


def test_a_spent_budget_skips_the_route_through_chinese(no_time):
    llm = scripted(no_time, [REFUSED_EN, "代县2024年地区生产总值增长目标是多少？"])
    ans = no_time.ask("What is Daixian's GDP growth target for 2024?")
    assert len(llm.prompts) == 1 and ans.extractive and "5%左右" in ans.answer
    assert any(n.endswith("the chinese route skipped") for n in ans.notes)


def test_a_budget_not_spent_changes_nothing(assistant):
    assert assistant.settings.answer_budget_s > 0
    llm = scripted(assistant, ["代县2024年城镇新增就业人数目标是4200人。", "代县2024年城镇新增就业人数目标是3100人。"])
    ans = assistant.ask("代县2024年城镇新增就业人数目标是多少？")
    assert len(llm.prompts) == 2 and "budget_spent" not in ans.timings


def test_a_spent_budget_counts_the_translation_as_a_generation(no_time):
    """An English question in parts is translated first: once the budget is spent, its first part
    is answered from its sentence like any later one, not generated."""
    llm = scripted(no_time, [INVESTMENT_TARGETS, "Shuozhou: above 10.5%; Daixian: about 13%."])
    ans = no_time.ask("What are the 2024 fixed-asset investment growth targets of Shuozhou and Daixian?")
    assert len(llm.prompts) == 2, [p[-1]["content"][:60] for p in llm.prompts]  # the translation and the rendering
    assert any(n.endswith("generating part 1 skipped") for n in ans.notes), ans.notes
    assert docs(ans) == {SHUOZHOU, DAIXIAN}
