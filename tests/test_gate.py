"""The gate: refusals decided without the model, which passages may answer, the quoted fallback."""

from __future__ import annotations

import pytest

from rag.answer.figures import asks_quantity, gives_figure
from rag.answer.gate import Gate
from rag.answer.verify import asks_one_year


@pytest.fixture(scope="module")
def gate(retriever) -> Gate:
    return Gate(retriever)


def ask(gate: Gate, question: str, k: int = 5):
    return gate.retriever.analyse(question), gate.retriever.search(question, k)


@pytest.mark.parametrize(
    "reply, figure",
    [
        ("甲市2025年粮食产量的目标是超额完成国家任务。[1]", False),  # a target without a figure
        ("乙县“十四五”期间的目标是进一步提高。[1]", False),  # a year and a plan's name are not figures
        ("甲市今年城镇新增就业2800人。[1]", True),
        ("乙县计划新建三个产业园区。[1]", True),
        ("甲市的目标是实现翻一番。[1]", True),
        ("The target is about five percent. [1]", True),
    ],
)
def test_a_reply_gives_a_figure_only_when_it_states_a_quantity(reply, figure):
    assert gives_figure(reply) is figure


def test_quantity_questions_are_recognised_in_both_languages():
    assert asks_quantity("甲市今年粮食产量的目标是多少？")
    assert asks_quantity("How many jobs will 乙县 add this year?")
    assert not asks_quantity("甲市今年的重点工作有哪些？")


def test_one_year_or_a_span(gate):
    assert asks_one_year(gate.retriever.analyse("甲市2023年新增就业多少人？"))
    assert not asks_one_year(gate.retriever.analyse("甲市2021年至2023年新增就业多少人？"))


def test_nothing_retrieved_is_refused_before_the_model(gate):
    q = gate.retriever.analyse("甲市今年新增就业多少人？")
    assert gate.precheck(q, q.question, []) == "no passage was retrieved"


def test_a_topic_no_passage_mentions_is_refused_before_the_model(gate):
    q, results = ask(gate, "潜水艇的螺旋桨有几片？")
    assert results, "retrieval always returns its nearest passages"
    assert gate.precheck(q, q.question, results) == "none of the question's key terms occurs in the retrieved passages"


def test_a_question_the_reports_answer_passes_the_gate(gate):
    q, results = ask(gate, "今年城镇新增就业的预期目标是多少？")
    assert gate.precheck(q, q.question, results) is None
    assert gate.fitting_chunks(q, results) <= {r.id for r in results} | {
        c for r in results for c in (*gate.retriever.by_id[r.id].follows, *gate.retriever.by_id[r.id].notes)
    }


def test_topic_coverage_weighs_key_terms_by_idf(gate):
    topic = ["城镇", "就业"]
    assert gate.topic_coverage(topic, "城镇新增就业1200万人") == 1.0
    assert gate.topic_coverage(topic, "粮食产量1.3万亿斤") == 0.0
    half = gate.topic_coverage(topic, "城镇人口增加")
    assert 0.0 < half < 1.0
    assert gate.topic_coverage([], "任何文字") == 0.0


def test_the_key_terms_leave_out_question_words_and_figures(gate):
    q = gate.retriever.analyse("2024年城镇新增就业的预期目标是多少？")
    terms = gate.topic_terms(q, q.question)
    assert "就业" in terms and "多少" not in terms and not any(t.isdigit() for t in terms)


def test_the_quoted_fallback_needs_a_figure_when_the_question_asks_how_much(gate):
    from rag.answer.context import select_context

    question = "城镇新增就业多少人？"
    q, results = ask(gate, question)
    passages = select_context(q.content, results, gate.retriever.by_id, gate.retriever.idf)
    topic = gate.topic_terms(q, question)
    best = gate.plain_answer(q, question, topic, passages)
    assert best is not None and any(ch.isdigit() for ch in best.text) and "就业" in best.text
    # the same sentence is not offered once it was found to answer something else
    assert gate.plain_answer(q, question, topic, passages, ruled_out={(best.chunk_id, best.start)}) != best


def test_the_margins_come_from_the_settings(retriever):
    """`Settings.gate` decides: a quoting bar no sentence reaches leaves no quoted fallback; an
    on-topic bar no passage reaches refuses a question the reports answer."""
    from rag.answer.context import select_context

    assert Gate(retriever).margins == retriever.settings.gate
    question = "城镇新增就业多少人？"
    for quote, found in ((retriever.settings.gate.quote, True), (1.01, False)):
        g = Gate(retriever)
        g.margins = g.margins.model_copy(update={"quote": quote})
        q, results = ask(g, question)
        passages = select_context(q.content, results, g.retriever.by_id, g.retriever.idf)
        assert (g.plain_answer(q, question, g.topic_terms(q, question), passages) is not None) is found
    g = Gate(retriever)
    q, results = ask(g, "2008年城镇新增就业多少人？")  # a year no report covers
    assert g.precheck(q, q.question, results) == "no passage on this topic for 2008"
    g.margins = g.margins.model_copy(update={"on_topic": 1.01})
    assert g.precheck(q, q.question, results) is None  # no passage counts as on the topic: no year to check


def test_each_part_fits_the_passages_of_its_own_year(corpus_retriever):
    """「2014年…多少？2015年的目标又是多少？」: the 2015 target paragraph cannot answer the 2014 part."""
    from rag.answer.gate import Gate

    gate = Gate(corpus_retriever)
    q = corpus_retriever.analyse("2015年政府工作报告中，2014年城镇新增就业多少人？2015年的预期目标又是多少？")
    results = corpus_retriever.search(q, 5)
    outcome = next(r.id for r in results if "1322万人" in r.text)
    target = next(r.id for r in results if "1000万人以上" in r.text)
    first, second = (gate.fitting_chunks(p, results) for p in q.part_plans)
    assert outcome in first and target not in first
    assert target in second and outcome not in second


def test_a_sentence_that_says_no_to_a_yes_no_question(gate, retriever):
    from rag.answer.context import Passage
    from rag.chunk.quote import ContextSentence

    q = retriever.analyse("甲市今年是否提出了地区生产总值增长目标？")
    topic = gate.topic_terms(q, q.question)
    said = ContextSentence(1, "c1", "我们没有提出全年地区生产总值增长目标。", 0, 10, 1.0)
    other = ContextSentence(1, "c1", "地区生产总值增长目标是5%左右。", 10, 20, 1.0)
    assert gate.denial(q, topic, [Passage(1, "c1", "甲市", [other, said])]) is said
    assert gate.denial(q, topic, [Passage(1, "c1", "甲市", [other])]) is None, "no denial: no answer no"


def test_a_reply_in_the_unit_the_question_asks_for():
    from rag.answer.figures import in_asked_unit

    assert not in_asked_unit("甲市2025年免税销售额是多少亿元？", "甲市免税销售额增长46.8%。")
    assert in_asked_unit("甲市2025年免税销售额是多少亿元？", "甲市免税销售额520亿元。")
    assert in_asked_unit("乙县新增就业多少人？", "新增就业1.7万人。"), "any magnitude"
    assert in_asked_unit("乙县新建多少个基站？", "新建基站120座。"), "counters vary with the wording"
    assert in_asked_unit("乙县增长多少？", "增长3%。"), "no unit asked"
