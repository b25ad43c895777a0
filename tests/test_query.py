"""The query-analysis stage on its own: places, years relative to each report, the report a
question names, content terms without the report-identifying words, English terms."""

from __future__ import annotations

import pytest

from rag.search.parts import split_parts
from rag.search.places import place_aliases
from rag.search.plan import asks_yes_no, states_plan
from rag.search.query import Analyzer
from rag.search.question import Report, is_english
from rag.search.translate import Translator

REPORTS = [
    Report("jia-2024", "甲市", "prefecture", 2024),
    Report("jia-2023", "甲市", "prefecture", 2023),
    Report("yi-2024", "乙县", "county", 2024),
    Report("national-2024", "全国", "national", 2024),
    Report("national-2022", "全国", "national", 2022),
    Report("bing-2025", "丙省", "province", 2025),
]


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(REPORTS, Translator.load())


def test_place_aliases() -> None:
    assert place_aliases("保定市") == {"保定市", "保定"}
    assert place_aliases("宁夏回族自治区") == {"宁夏回族自治区", "宁夏"}
    assert place_aliases("甲市") == {"甲市"}, "a one-character bare name would match ordinary words"
    assert {"国务院", "全国"} <= place_aliases("全国")


def test_place_and_relative_year(analyzer: Analyzer) -> None:
    q = analyzer.analyse("乙县去年城镇新增就业多少人？")
    assert q.places == {"乙县"} and q.docs == {"yi-2024"}
    assert q.relative == {"last"} and q.targets(2024) == {2023}
    assert "乙县" not in q.content and "城镇新增就业" in q.content


def test_the_report_year_is_not_the_period(analyzer: Analyzer) -> None:
    q = analyzer.analyse("2024年国务院政府工作报告提出今年的经济增长目标是多少？")
    assert q.report_year == 2024 and q.places == {"全国"} and q.docs == {"national-2024"}
    assert q.years == set() and q.targets(2024) == {2024}
    for word in ("政府工作报告", "国务院", "2024"):
        assert word not in q.content, q.content
    q = analyzer.analyse("2022年政府工作报告中，去年城镇新增就业多少？")
    assert q.report_year == 2022 and q.docs == {"national-2022"}, "the only report given in 2022"
    assert q.targets(2022) == {2021}


def test_explicit_year_picks_the_report_that_covers_it(analyzer: Analyzer) -> None:
    q = analyzer.analyse("甲市2023年新增就业多少人？")
    assert q.years == {2023} and q.docs == {"jia-2024"}, "the report that reviews 2023"
    q = analyzer.analyse("甲市2024年的报告里，今年新增就业目标是多少？")
    assert q.report_year == 2024 and q.docs == {"jia-2024"} and q.targets(2024) == {2024}


def test_the_meeting_names_the_report(analyzer: Analyzer) -> None:
    q = analyzer.analyse("2022年3月在全国人大会议上所作的政府工作报告，赤字率拟按多少安排？")
    assert q.report_year == 2022 and q.years == set() and q.docs == {"national-2022"}
    assert "会议" not in q.content and "赤字率" in q.content


def test_no_place_no_report(analyzer: Analyzer) -> None:
    q = analyzer.analyse("今年城镇新增就业目标是多少？")
    assert q.places == set() and q.docs == set() and q.relative == {"this"}


def test_bare_province_name_and_several_years(analyzer: Analyzer) -> None:
    q = analyzer.analyse("丙省2023年建成多少座5G基站？今年计划多少座？")
    assert q.places == {"丙省"} and q.years == {2023}
    assert q.targets(2025) == {2023, 2025}


def test_unknown_places_are_named_not_people_or_words(analyzer: Analyzer) -> None:
    assert analyzer.analyse("石家庄今年的经济增长目标是多少？").unknown_places == ["石家庄"]
    assert analyzer.analyse("丁县今年新建多少所学校？").unknown_places == ["丁县"]
    assert analyzer.analyse("李四2024年的报告提出的广义货币增长目标是多少？").unknown_places == []
    assert analyzer.analyse("甲市今年要新建多少座5G基站？").unknown_places == []


def test_meta_questions(analyzer: Analyzer) -> None:
    assert analyzer.analyse("甲市2024年政府工作报告是谁作的？").asks_meta
    assert analyzer.analyse("Who delivered the 2024 report of the State Council?").asks_meta
    assert not analyzer.analyse("甲市今年地区生产总值增长目标是多少？").asks_meta


def test_english_question(analyzer: Analyzer) -> None:
    q = analyzer.analyse("What deficit ratio did the State Council set in its 2024 report?")
    assert q.english and q.places == {"全国"} and q.report_year == 2024 and q.docs == {"national-2024"}
    assert "赤字率" in q.english_terms
    q = analyzer.analyse("How many new urban jobs did Jia City create last year?")
    # 甲市 has reports of 2023 and 2024: last year is the year before the latest, reviewed by the latest
    assert q.places == {"甲市"} and q.years == {2023} and not q.relative and q.docs == {"jia-2024"}
    assert "城镇新增就业" in q.english_terms and not any("甲" in t for t in q.english_terms)


def test_is_english() -> None:
    assert is_english("What was the GDP growth target?")
    assert not is_english("甲市GDP增长多少？")


@pytest.mark.parametrize(
    "question, parts, compare",
    [
        (
            "甲市2024年新增就业多少人？2025年的目标又是多少？",
            ["甲市2024年新增就业多少人？", "2025年的目标又是多少？"],
            None,
        ),
        (
            "乙县2022年和2023年的粮食产量分别是多少？",
            ["乙县2022年的粮食产量是多少？", "乙县2023年的粮食产量是多少？"],
            None,
        ),
        (
            "丙省“十三五”末和“十四五”末的常住人口分别是多少？",
            ["丙省“十三五”末的常住人口是多少？", "丙省“十四五”末的常住人口是多少？"],
            None,
        ),
        (
            "甲市今年的增长目标是多少？与去年的实际增速相比是高还是低？",
            ["甲市今年的增长目标是多少？", "去年的实际增速是多少？"],
            ("高", "低"),
        ),
        ("乙县今年投资目标比去年快还是慢？", ["乙县今年投资目标是多少？", "去年是多少？"], ("快", "慢")),
        # not parallel (different shapes): left as one question
        ("城镇、农村居民人均可支配收入分别增长多少？", ["城镇、农村居民人均可支配收入分别增长多少？"], None),
        ("甲市今年新增就业多少人？", ["甲市今年新增就业多少人？"], None),
    ],
)
def test_split_parts(question, parts, compare) -> None:
    assert split_parts(question)[:2] == (parts, compare)


def test_follow_up_parts_are_looked_for_with_the_first_parts_words(analyzer) -> None:
    assert split_parts("乙县2022年和2023年的粮食产量分别是多少？")[2] == [], "both parts are whole questions"
    q = analyzer.analyse("甲市2023年实际使用外资增长多少？“十四五”时期年均增长多少？")
    assert q.part_contents[1].startswith("实际使用外资") and "2023" not in q.part_contents[1]


def test_parts_keep_their_own_years(analyzer) -> None:
    q = analyzer.analyse("甲市2024年政府工作报告中，2023年新增就业多少人？2024年的目标又是多少？")
    assert len(q.parts) == 2 and q.docs == {"jia-2024"}
    assert "2024年" in q.part_contents[1], "the second part's year is its period, not the report's"
    assert "2024年" not in q.part_contents[0]


def test_the_second_figure_of_a_comparison_is_looked_for_by_the_first_parts_indicator(analyzer) -> None:
    q = analyzer.analyse("甲市今年的粮食产量目标是多少？与去年的实际值相比是高还是低？")
    assert q.compare == ("高", "低")
    assert "粮食产量" in q.part_contents[1] and "实际值" in q.part_contents[1]


def test_english_questions_are_not_split(analyzer) -> None:
    q = analyzer.analyse("How many jobs did Jia City add in 2023? And in 2024?")
    assert q.parts == [q.question] and q.compare is None


def test_outcome_questions_and_plan_sentences(analyzer) -> None:
    assert analyzer.analyse("甲市2024年报告中，2023年赤字率实际是多少？").wants_actual
    assert not analyzer.analyse("甲市实际使用外资增长多少？").wants_actual, "实际使用外资 is an indicator's name"
    assert not analyzer.analyse("甲市今年的目标与去年实际完成数分别是多少？").wants_actual
    assert states_plan("今年赤字率拟按3%左右安排。")
    assert states_plan("预期目标是地区生产总值增长5%左右。")
    assert states_plan("赤字率拟按3%安排，赤字规模1.2亿元，比上年年初预算增加100万元。"), "比上年 is said of plans too"
    assert not states_plan("全年完成预期目标，地区生产总值增长5.2%。")


def test_a_question_about_two_places_is_asked_of_each(analyzer) -> None:
    q = analyzer.analyse("甲市与乙县今年计划新建的学校各有多少所？")
    assert q.parts == ["甲市今年计划新建的学校有多少所？", "乙县今年计划新建的学校有多少所？"]
    assert analyzer.analyse(q.parts[1]).docs != analyzer.analyse(q.parts[0]).docs
    assert len(analyzer.analyse("甲市今年计划新建多少所学校？").parts) == 1


@pytest.mark.parametrize(
    "question, expected",
    [
        ("甲市的政府债务在2023年是否继续下降？", True),
        ("乙县2017年有没有发生生产安全事故？", True),
        ("甲市完成目标了吗？", True),
        ("Did Jia City meet its 2023 target?", True),
        ("甲市2023年政府债务是多少？", False),
        ("What did Jia City plan for 2024?", False),
    ],
)
def test_asks_yes_no(question, expected):
    assert asks_yes_no(question) is expected


def test_a_series_reads_relative_years_against_its_latest_report(analyzer) -> None:
    q = analyzer.analyse("甲市去年城镇新增就业多少人？")
    assert q.years == {2023} and q.attribute == "result" and q.docs == {"jia-2024"}
    q = analyzer.analyse("甲市今年的增长目标是多少？")
    assert q.years == {2024} and q.docs == {"jia-2024"}
    q = analyzer.analyse("乙县去年城镇新增就业多少人？")
    assert q.relative == {"last"} and not q.years, "one report: 去年 stays relative to it"


def test_a_target_is_read_in_its_years_report_and_a_result_in_the_next(analyzer) -> None:
    assert analyzer.analyse("甲市2023年的增长目标是多少？").docs == {"jia-2023"}
    assert analyzer.analyse("甲市2023年实际增长了多少？").docs == {"jia-2024"}
    assert analyzer.analyse("甲市2023年增长了多少？").docs == {"jia-2024"}, "增长了 asks what was achieved"
    assert analyzer.analyse("甲市2023年的粮食产量是多少？").docs == {"jia-2024"}, "no word of a target: what was done"
    assert analyzer.analyse("乙县2024年的粮食产量是多少？").docs == {"yi-2024"}, "no report after it: its own"


def test_a_year_read_in_the_report_that_reviews_it_asks_what_was_done(analyzer) -> None:
    # the 2024 report holds 2023's result and 2024's target: the figure asked is the result
    assert analyzer.analyse("甲市2023年的粮食产量是多少？").attribute == "result"
    assert analyzer.analyse("乙县2024年的粮食产量是多少？").attribute is None, "its own report: either"
    assert analyzer.analyse("甲市2023年的粮食产量目标是多少？").attribute == "target"


def test_a_target_and_its_result_are_two_parts_from_two_reports(analyzer) -> None:
    q = analyzer.analyse("甲市2023年地区生产总值增长目标是多少？实际增长了多少？")
    assert q.relation == "target_vs_actual"
    assert [p.attribute for p in q.part_plans] == ["target", "result"]
    assert [p.docs for p in q.part_plans] == [{"jia-2023"}, {"jia-2024"}]
    q = analyzer.analyse("甲市2023年社会消费品零售总额的增长目标完成得怎么样？")
    assert [p.docs for p in q.part_plans] == [{"jia-2023"}, {"jia-2024"}]


def test_two_places_compared_and_a_place_the_library_lacks(analyzer) -> None:
    q = analyzer.analyse("甲市和乙县今年的投资增长目标哪个更高？")
    assert q.relation == "compare" and q.compare == ("高", "低")
    assert [p.docs for p in q.part_plans] == [{"jia-2024"}, {"yi-2024"}]
    q = analyzer.analyse("甲市和丁县今年的投资增长目标分别是多少？")
    assert [p.missing for p in q.part_plans] == [False, True]
    assert q.part_plans[1].unknown_places == ["丁县"]


def test_two_reports_of_one_place_compared(analyzer) -> None:
    q = analyzer.analyse("甲市的就业目标从2023年到2024年是怎么调整的？")
    assert q.relation == "change"
    assert [p.docs for p in q.part_plans] == [{"jia-2023"}, {"jia-2024"}]


def test_a_scope_limits_the_reports_a_question_picks(analyzer) -> None:
    q = analyzer.analyse("甲市的增长目标是多少？", frozenset({"jia-2023"}))
    assert q.docs == {"jia-2023"}


def test_an_acronym_in_a_chinese_question_stands_for_its_terms(analyzer) -> None:
    q = analyzer.analyse("甲市今年GDP增长目标是多少？")
    assert q.synonyms.get("gdp") and all("生产总值" in t for t in q.synonyms["gdp"])
    assert set(q.synonyms["gdp"]) <= set(q.search_terms)


def test_a_follow_up_part_is_asked_with_what_where_and_when(analyzer) -> None:
    q = analyzer.analyse("甲市2023年地区生产总值增长目标是多少？最后实际增长了多少？")
    assert q.part_plans[1].ask == "甲市2023年地区生产总值最后实际增长了多少?"
    assert "地区生产总值" in q.part_plans[1].content
    q = analyzer.analyse("甲市“十四五”时期地区生产总值年均增长多少？2025年当年增长多少？")
    assert "年均" not in q.part_plans[1].ask, "the first part's average is not the second part's question"
