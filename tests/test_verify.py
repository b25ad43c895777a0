"""Whether a figure in a source sentence is said of what the question asks (no model needed)."""

import pytest

from rag.answer.context import Passage
from rag.answer.verify import check, misattributed, said_of
from rag.chunk.quote import ContextSentence


@pytest.mark.parametrize(
    "question, answer, support, one_year, expected",
    [
        # the contrasting indicator
        (
            "甲市去年一般公共预算收入增长多少？",
            "增长12.5%。",
            "税收占一般公共预算收入比重超70%，一般公共预算支出增长12.5%。",
            True,
            True,
        ),
        (
            "甲市去年一般公共预算支出增长多少？",
            "增长12.5%。",
            "税收占一般公共预算收入比重超70%，一般公共预算支出增长12.5%。",
            True,
            False,
        ),
        ("乙县出口总额是多少？", "2.1亿美元。", "进口总额2.1亿美元，增长3%。", False, True),
        ("乙县进出口总额是多少？", "2.1亿美元。", "进出口总额2.1亿美元，增长3%。", False, False),
        # an average over years does not answer a question about one year
        ("甲市2020年生产总值增长多少？", "增长6.1%。", "生产总值年均增长6.1%，固定资产投资年均增长4%。", True, True),
        ("甲市“十三五”时期生产总值年均增长多少？", "6.1%。", "生产总值年均增长6.1%。", False, False),
        ("甲市2020年生产总值增长多少？", "增长6.1%。", "全年生产总值增长6.1%，高于全省平均水平。", True, False),
        ("甲市2020年生产总值增长多少？", "增长6.1%。", "生产总值年均增长6.1%。", False, False),
    ],
)
def test_misattributed(question, answer, support, one_year, expected):
    assert misattributed(question, answer, support, one_year) is expected


@pytest.mark.parametrize(
    "sentence, attr, terms, expected",
    [
        # the growth belongs to the revenue named in the clause before it, not to the output named first
        ("生产总值达到3353.3亿元，一般公共预算收入达到280.7亿元，比上年增长了1.5倍。", "增长", {"生产总值"}, False),
        ("生产总值达到3353.3亿元，一般公共预算收入达到280.7亿元，比上年增长了1.5倍。", "增长", {"收入"}, True),
        # a clause without a figure shares the subject of the clause before it
        ("全年地区生产总值3000亿元，增长5%。", "增长", {"生产总值"}, True),
        ("地区生产总值增长5%，粮食产量120万吨。", "增长", {"生产总值"}, True),
        ("地区生产总值3000亿元，粮食产量增长5%。", "增长", {"生产总值"}, False),
    ],
)
def test_said_of(sentence, attr, terms, expected):
    assert said_of(sentence, attr, terms) is expected


def _passage(*texts: str) -> list[Passage]:
    sents = [ContextSentence(1, "甲市/a1/s1/p1", t, 0, len(t), 1.0) for t in texts]
    return [Passage(1, "甲市/a1/s1/p1", "（甲市·2024年·一、工作回顾）", sents)]


def test_yes_no_answer_restating_the_question_is_supported():
    passages = _passage("全市政府债务连续三年下降，处于警戒线以内。", "新建5G基站210座。")
    for reply in ("甲市的政府债务在2023年继续下降。", "是。"):
        v = check(reply, passages, "甲市的政府债务在2023年是否继续下降？", {"政府", "债务", "继续", "下降"})
        assert v.ok and v.sentences[0][1] and "债务" in v.sentences[0][1][0].text


def test_yes_no_yes_is_not_supported_by_a_denial():
    passages = _passage("今年没有提出全年经济增速具体目标。")
    v = check(
        "是的，提出了全年经济增速具体目标。",
        passages,
        "今年是否提出了全年经济增速具体目标？",
        {"提出", "全年", "经济", "增速", "具体", "目标"},
    )
    assert not any(sup for _, sup in v.sentences)
    v = check(
        "没有提出全年经济增速具体目标。",
        passages,
        "今年是否提出了全年经济增速具体目标？",
        {"提出", "全年", "经济", "增速", "具体", "目标"},
    )
    assert all(sup for _, sup in v.sentences)


def test_a_question_not_yes_no_is_not_supported_by_restating_it():
    passages = _passage("全市政府债务连续三年下降，处于警戒线以内。")
    v = check("甲市的政府债务下降。", passages, "甲市的政府债务下降情况如何？", {"政府", "债务", "下降", "情况"})
    assert v.sentences and v.sentences[0][1] == []


def test_a_figure_said_of_another_indicator_in_the_same_sentence():
    from rag.answer.verify import said_of_other

    asked = {"gdp", "生产总值"}
    assert said_of_other(asked, "实际增长19.9%。", "实际使用外资增长19.9%，")
    assert not said_of_other(asked, "增长4%。", "地区生产总值增长4%，")
    # 「…5696亿元，增长5.3%」: the growth's subject is named in the clause before
    assert not said_of_other(asked, "增长5.3%", "全年实现地区生产总值5696亿元，增长5.3%，超过全国平均水平。")
    assert not said_of_other(set(), "增长19.9%", "实际使用外资增长19.9%"), "nothing to tell by"


def test_counters_of_the_same_things():
    from rag.answer.figures import same_counter

    assert same_counter({"名"}, {"个"}), "446名劳模 is 446个劳模"
    assert same_counter({"位"}, {"人"})
    assert not same_counter({"人"}, {"个"}), "5.3万人 is not 5.3万个"
    assert not same_counter({"座"}, {"个"})


def test_a_term_of_a_ratio_supports_no_percentage():
    from rag.answer.figures import figure_units

    units = figure_units("城乡居民收入比收窄至2：1以内，三次产业比重为4.0∶37.7∶58.3")
    assert units["2"] == {"比"} and units["4.0"] == {"比"}


def test_a_name_split_differently_in_the_answer_is_still_found():
    from rag.answer.context import Passage
    from rag.answer.verify import check
    from rag.chunk.quote import ContextSentence

    passage = Passage(1, "c1", "甲市·2025年", [ContextSentence(1, "c1", "甲市人民政府市长 欧阳明远", 0, 12, 1.0)])
    verdict = check("甲市2025年政府工作报告是欧阳明远作的。", [passage], "甲市2025年政府工作报告是谁作的？")
    assert verdict.sentences[0][1], "the speaker's line supports the answer"
    verdict = check("甲市2025年政府工作报告是司马光辉作的。", [passage], "甲市2025年政府工作报告是谁作的？")
    assert not verdict.sentences[0][1], "another name is not supported"
