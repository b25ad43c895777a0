"""The shape of a question (rag/search/plan.py): attributes, relations, parts and yes/no figures. Pure
functions of the wording; the questions are invented (甲省, 乙市), never a report's phrases."""

import pytest

from rag.search.parts import parallel_parts, split_parts, target_and_result, year_spans
from rag.search.plan import (
    asked_figure,
    attribute_of,
    clean_part,
    compare_words,
    completion_test,
    measure_of,
    relation_of,
    without_asked_figure,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("甲省2025年地区生产总值增长的预期目标是多少？", "target"),
        ("甲省今年计划新建多少所学校？", "target"),
        ("乙市2024年原定增长多少？", "target"),
        ("甲省2025年实际增长了多少？", "result"),
        ("乙市去年新增了多少就业岗位？", "result"),
        ("甲省的粮食产量是多少？", None),
        ("What target did Jia Province set for 2025?", "target"),
        ("What was the actual growth?", "result"),
    ],
)
def test_attribute(text, expected):
    assert attribute_of(text) == expected


def test_measure():
    assert measure_of("地区生产总值增长多少") == "growth"
    assert measure_of("粮食总产量是多少") == "amount"
    assert measure_of("经济总量排名第几") == "rank"
    assert measure_of("有没有提出这项改革") is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("甲省和乙省2026年的增长目标哪个更高？", "compare"),
        ("2025年甲省和乙省谁的经济增速更快？", "compare"),
        ("乙市2026年的民生实事比2025年多吗？", "compare"),
        ("甲省的就业目标从2025年到2026年是怎么调整的？", "change"),
        ("甲省2026年的目标和2025年的目标相比有什么变化？", "change"),
        ("甲省2025年的增长目标完成得怎么样？", "target_vs_actual"),
        ("乙市2025年完成了增长3%的目标吗？", "target_vs_actual"),
        ("甲省投资计划增长多少，实际增长多少？", "target_vs_actual"),
        ("甲省和乙省的粮食产量分别是多少？", "each"),
        ("甲省2025年的增长目标是多少？", ""),
        # 「比上年增长了多少」 compares with last year inside one figure: no second part
        ("甲省2024年地区生产总值比上年增长了多少？", ""),
        ("How did the jobs target change between the 2025 and 2026 reports?", "change"),
        ("Did Jia Province meet its 2025 growth target?", "target_vs_actual"),
    ],
)
def test_relation(text, expected):
    assert relation_of(text) == expected


def test_compare_words_follow_the_question():
    assert compare_words("谁的经济增速更快？") == ("快", "慢")
    assert compare_words("2026年的项目比2025年多吗？") == ("多", "少")
    assert compare_words("哪个更高？") == ("高", "低")


@pytest.mark.parametrize(
    "text, how, figure",
    [
        ("甲省2026年的增长目标是否超过5%？", "gt", "5%"),
        ("乙市2023年城镇新增就业超过1200万人了吗？", "gt", "1200万人"),
        ("甲省2025年城镇调查失业率控制在5%以内了吗？", "le", "5%以内"),
        ("乙市2026年的增长目标还是“6%以上”吗？", "eq", "6%以上"),
        ("甲省优良天数比例是否首次突破80%？", "ge", "80%"),
    ],
)
def test_asked_figure(text, how, figure):
    got = asked_figure(text)
    assert got is not None and got[:2] == (how, figure)


def test_a_figure_inside_a_name_or_a_year_is_not_asked():
    assert asked_figure("是否提出将3岁以下婴幼儿照护费用纳入扣除？") is None
    assert asked_figure("2018年的20项民心工程是否全部完成？") is None
    assert asked_figure("甲省2025年是否设定了增长目标？") is None


def test_a_yes_no_question_about_a_figure_asks_for_the_figure():
    assert without_asked_figure("甲省2026年的增长目标是否超过5%？") == "甲省2026年的增长目标是多少？"
    assert without_asked_figure("乙市2025年城镇调查失业率控制在5%以内了吗？") == "乙市2025年城镇调查失业率是多少？"
    assert without_asked_figure("乙市2026年的增长目标还是“6%以上”吗？") == "乙市2026年的增长目标是多少？"


@pytest.mark.parametrize(
    "question, parts",
    [
        (
            "甲省2025年社会消费品零售总额的增长目标完成得怎么样？",
            ["甲省2025年社会消费品零售总额的增长目标是多少？", "甲省2025年社会消费品零售总额实际增长了多少？"],
        ),
        (
            "乙市2025年城镇新增就业完成“8万人以上”的目标了吗？",
            ["乙市2025年城镇新增就业目标是多少？", "乙市2025年城镇新增就业实际是多少？"],
        ),
        (
            "丙县2022年GDP实现了5.5%左右的增长目标吗？",
            ["丙县2022年GDP增长目标是多少？", "丙县2022年GDP实际增长了多少？"],
        ),
        (
            "甲省2025年规模以上工业增加值计划增长多少，实际增长多少？",
            ["甲省2025年规模以上工业增加值计划增长多少？", "甲省2025年规模以上工业增加值实际增长多少？"],
        ),
        (
            "甲省社会消费品零售总额2025年的增长目标与实际增速分别是多少？",
            ["甲省社会消费品零售总额2025年的增长目标是多少？", "甲省社会消费品零售总额2025年实际增速是多少？"],
        ),
    ],
)
def test_target_and_result_become_two_questions(question, parts):
    assert target_and_result(question) == parts


def test_not_every_question_is_a_target_and_its_result():
    assert target_and_result("甲省2025年的增长目标是多少？") is None
    assert target_and_result("乙市去年实际使用外资多少？") is None


def test_completion_test():
    assert completion_test("超过了年初6.5%左右的目标吗") == "gt"
    assert completion_test("控制在5.5%左右的目标以内了吗") == "le"
    assert completion_test("完成了增长3%的目标吗") == "met"


def test_parallel_mentions_side_by_side_are_kept_one_at_a_time():
    text = "甲省城镇新增就业目标从2025年到2026年是怎么调整的？"
    assert parallel_parts(text, year_spans(text, [2025, 2026])) == [
        "甲省城镇新增就业目标2025年是多少？",
        "甲省城镇新增就业目标2026年是多少？",
    ]


def test_parallel_mentions_apart_ask_the_head_again():
    text = "甲省2026年GDP增长目标和2025年的目标相比有什么变化？"
    assert parallel_parts(text, year_spans(text, [2025, 2026])) == [
        "甲省2026年GDP增长目标是多少？",
        "甲省2025年GDP增长目标是多少？",
    ]
    text = "乙市2026年计划办的民生实事比2025年多吗？"
    assert parallel_parts(text, year_spans(text, [2025, 2026])) == [
        "乙市2026年计划办的民生实事是多少？",
        "乙市2025年计划办的民生实事是多少？",
    ]


def test_clean_part():
    assert clean_part("2025年甲省谁的经济增速更快？各增长多少？") == "2025年甲省经济增速，增长多少？"
    assert clean_part("甲省的粮食产量分别是多少？") == "甲省的粮食产量是多少？"


def test_a_note_in_brackets_is_not_a_part():
    parts, _, _ = split_parts("甲省去年城镇新增就业的任务是多少？实际完成了多少？（2025年）")
    assert parts == ["甲省去年城镇新增就业的任务是多少？", "实际完成了多少（2025年）"]


def test_a_second_mention_that_names_its_own_question_is_its_own_part():
    text = "甲市2024年计划的“送戏下乡”场次和乙县2023年实际完成的场次分别是多少？"
    spans = [(0, 2), (text.index("乙县"), text.index("乙县") + 2)]
    assert parallel_parts(text, spans) == ["甲市2024年计划的“送戏下乡”场次是多少？", "乙县2023年实际完成的场次是多少？"]


def test_the_indicator_keeps_what_the_question_word_asks_of():
    from rag.search.plan import indicator_of

    assert indicator_of("2014年城镇新增就业多少人?") == "城镇新增就业"
    assert indicator_of("今年计划新建多少所学校?") == "新建学校"
    assert indicator_of("去年城镇新增就业的任务是多少?") == "城镇新增就业"
    assert indicator_of("甲市报告里,2025年的GDP增速目标是多少?") == "GDP增速", "the clause that asks"


@pytest.mark.parametrize(
    "question,parts",
    [
        (
            "甲省2025年的居民消费价格和城镇调查失业率各是多少？",
            ["甲省2025年的居民消费价格是多少？", "甲省2025年的城镇调查失业率是多少？"],
        ),
        ("甲市的一般公共预算收入和税收收入分别是多少？", ["甲市的一般公共预算收入是多少？", "甲市的税收收入是多少？"]),
        (
            "“十三五”和“十四五”时期的年均增速分别是多少？",
            ["“十三五”时期的年均增速是多少？", "“十四五”时期的年均增速是多少？"],
        ),
        # a shared noun or a verb pair is one question
        ("城镇和农村居民人均可支配收入分别增长多少？", ["城镇和农村居民人均可支配收入分别增长多少？"]),
        ("甲市2025年新建和改造学校分别多少所？", ["甲市2025年新建和改造学校分别多少所？"]),
    ],
)
def test_two_indicators_asked_at_once_are_two_parts(question, parts):
    assert split_parts(question)[0] == parts
