"""Answers composed in code (rag/answer/compose.py): the replies to each part joined, the parts the
reports do not answer named, and the relation of two figures computed (no model needed)."""

from rag.answer.compose import (
    asked_verdict,
    change_sentence,
    compare_sentence,
    contradiction,
    figures_of,
    join_replies,
    main_figure,
    part_remarks,
    relate,
    target_verdict,
)
from rag.search.query import QueryAnalysis


def _plan(relation: str, parts: list[QueryAnalysis], **kw) -> QueryAnalysis:
    return QueryAnalysis(
        question="…",
        text="…",
        english=False,
        relation=relation,
        part_plans=parts,
        parts=[p.question for p in parts],
        **kw,
    )


def _part(question: str, **kw) -> QueryAnalysis:
    return QueryAnalysis(question=question, text=question, english=False, **kw)


def test_replies_to_each_part_are_joined_and_compared_in_code():
    q = QueryAnalysis(
        question="…",
        text="…",
        english=False,
        parts=["甲市今年的增长目标是多少？", "去年的实际增速是多少？"],
        compare=("高", "低"),
    )
    replies = ["甲市今年的增长目标是5%左右。[1]", "去年实际增长5.6%。[2]"]
    assert join_replies(replies) == "甲市今年的增长目标是5%左右。[1]\n去年实际增长5.6%。[2]"
    assert part_remarks(q, replies) == "后者（5.6%）高于前者（5%左右），相差0.6个百分点。", "whatever the model said"
    assert part_remarks(q, ["目标是6%。", "去年增长5.6%。"]) == "前者（6%）高于后者（5.6%），相差0.4个百分点。"
    assert part_remarks(q, ["目标是6%。", "去年增加120万人。"]) == "", "a percentage and a count do not compare"
    # a part the model could not answer is said so; the other part stands
    assert join_replies(["目标是6%。[1]", "资料中未提及。"]) == "目标是6%。[1]"
    assert part_remarks(q, ["目标是6%。[1]", "资料中未提及。"]) == "（第2问：资料中未提及。）"
    assert join_replies(["资料中未提及。", "资料中未提及。"]) == "资料中未提及。"


def test_a_chinese_reply_that_starts_with_a_year_keeps_chinese_punctuation():
    assert (
        join_replies(["2015年安排5000亿元", "2016年安排6000亿元。[2]"])
        == "2015年安排5000亿元。\n2016年安排6000亿元。[2]"
    )
    assert join_replies(["Jia City plans 120 (120个) projects"]) == "Jia City plans 120 (120个) projects."


def test_figures_as_reports_write_them():
    f = figures_of("目标为4.5%—5%，就业8万人以上，粮食76.28亿斤，2025年增长3.9%[2]")
    assert [(x.low, x.high, x.unit, x.qualifier) for x in f] == [
        (4.5, 5.0, "%", ""),
        (80000.0, 80000.0, "人", "以上"),
        (7628000000.0, 7628000000.0, "斤", ""),
        (3.9, 3.9, "%", ""),
    ]
    assert main_figure("总量14.6万亿元，增长3.9%", "growth").text == "3.9%"
    assert main_figure("总量14.6万亿元，增长3.9%", "amount").text == "14.6万亿元"


def test_two_places_compared():
    s = compare_sentence(main_figure("增长3.9%"), main_figure("增长5.3%"), "甲省", "乙省", ("快", "慢"))
    assert s == "乙省（5.3%）快于甲省（3.9%），相差1.4个百分点。"
    assert compare_sentence(main_figure("5%"), main_figure("5%"), "甲省", "乙省") == "甲省与乙省相同（均为5%）。"
    assert "相差3.5万人" in compare_sentence(main_figure("12万人"), main_figure("8.5万人"), "甲", "乙")


def test_a_target_changed_between_two_reports():
    assert (
        change_sentence(main_figure("17万人以上"), main_figure("17万人左右"), "2025年", "2026年")
        == "2025年为17万人以上，2026年为17万人左右：数值不变，表述由“以上”改为“左右”。"
    )
    assert (
        change_sentence(main_figure("8万人以上"), main_figure("8.2万人以上"), "2025年", "2026年")
        == "2025年为8万人以上，2026年为8.2万人以上，上调2000人。"
    )
    assert change_sentence(main_figure("5%左右"), main_figure("4.5%—5%"), "2025年", "2026年").endswith("有所下调。")


def test_a_result_against_its_target():
    assert target_verdict(main_figure("5%左右"), main_figure("3.9%")) == (
        "实际（3.9%）低于目标1.1个百分点（目标5%左右）。",
        None,
    )
    text, met = target_verdict(main_figure("8万人以上"), main_figure("8.55万人"), "met")
    assert met is True and text.endswith("完成目标。")
    text, met = target_verdict(main_figure("5.5%左右"), main_figure("5.0%"), "le")
    assert met is True and text.endswith("在目标以内。")
    assert target_verdict(main_figure("6.5%左右"), main_figure("6.9%"), "gt")[1] is True
    assert target_verdict(main_figure("6%以上"), main_figure("4%"))[1] is False, "以上 is a floor"
    assert target_verdict(main_figure("3%以内"), main_figure("3.2%"))[1] is False, "以内 is a ceiling"


def test_yes_or_no_against_the_figure_a_question_states():
    assert asked_verdict("gt", main_figure("5%"), main_figure("4.5%—5%")) is False
    assert asked_verdict("gt", main_figure("1200万人"), main_figure("1244万人")) is True
    assert asked_verdict("le", main_figure("5%以内"), main_figure("4.1%")) is True
    assert asked_verdict("ge", main_figure("64%"), main_figure("61.1%")) is False
    assert asked_verdict("eq", main_figure("6%以上"), main_figure("6%左右")) is False, "the qualifier is asked too"
    assert asked_verdict("eq", main_figure("6%"), main_figure("6%左右")) is True
    assert asked_verdict("gt", main_figure("5%"), main_figure("120万人")) is None, "not comparable"


def test_a_yes_no_figure_the_cited_sentence_contradicts():
    assert contradiction("是否提出到期后再延长20年的试点？", ["开展第二轮土地承包到期后再延长30年试点。"]) == "30年"
    assert contradiction("是否提出到期后再延长三年？", ["到期后再延长三年。"]) is None
    assert contradiction("是否提出到期后再延长五年？", ["支持政策延长三年。"]) == "三年"
    assert contradiction("2024年是否新建20所学校？", ["新建学校20所。"]) is None, "a year is not the figure asked"
    assert contradiction("是否延长20年？", ["完善承包制度。"]) is None, "no figure of that kind: neither yes nor no"


def test_relate_names_the_part_a_place_missing_from_the_library_asks_of():
    parts = [
        _part("甲省2026年增长目标是多少？", places={"甲省"}),
        _part("丙省2026年增长目标是多少？", unknown_places=["丙省"]),
    ]
    lead, tail = relate(_plan("each", parts), ["甲省2026年的增长目标是5%左右。[1]", "资料中未提及。"])
    assert lead == "" and tail == "（丙省：资料中没有丙省的报告。）"


def test_relate_settles_a_yes_no_question_about_a_target():
    parts = [
        _part("乙市2025年就业目标是多少？", attribute="target", years={2025}),
        _part("乙市2025年就业实际是多少？", attribute="result", years={2025}),
    ]
    q = _plan("target_vs_actual", parts, yes_no=True, asked=("met", "8万人以上"))
    lead, tail = relate(q, ["目标为8万人以上。[1]", "新增城镇就业8.55万人。[2]"])
    assert lead == "是。" and "完成目标" in tail
    q.asked = ("gt", "")
    lead, _ = relate(q, ["目标为8万人以上。[1]", "新增城镇就业7.9万人。[2]"])
    assert lead == "否。"


def test_relate_does_not_judge_a_target_against_another_years_result():
    parts = [
        _part("今年目标是多少？", attribute="target", years={2018}),
        _part("去年实际是多少？", attribute="result", years={2017}),
    ]
    lead, tail = relate(_plan("target_vs_actual", parts), ["目标5000人。[1]", "新增4800人。[2]"])
    assert lead == "" and "目标" not in tail


def test_a_yes_no_question_asked_of_the_contrasting_indicator_is_answered_no():
    assert contradiction("有没有设定城镇调查失业率目标？", ["城镇登记失业率4.5%以内，"]) == "城镇登记失业率"
    assert contradiction("有没有设定城镇调查失业率目标？", ["城镇调查失业率5.5%左右，"]) is None
    assert contradiction("居民消费价格是上涨的吗？", ["居民消费价格微降0.1%。"]) == "微降0.1%"
