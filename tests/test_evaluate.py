"""The evaluation metrics on hand-made cases (no model needed)."""

from __future__ import annotations

from rag.answer.prompts import is_refusal
from rag.evaluate.questions import Question
from rag.evaluate.report import compare
from rag.evaluate.scoring import answer_metrics, figures_correct, is_concise, items_correct, judge, polarity


def q(type_: str = "number", answer: str = "53家以上", evidence=("新认定高新技术企业53家以上",)) -> Question:
    return Question(
        id="t1",
        question="忻州今年要新认定多少家高新技术企业？",
        answer=answer,
        doc=["000.txt"],
        evidence=list(evidence),
        type=type_,
    )


def ans(text: str, refused: bool = False, cites=(), retrieved_text: str = "新认定高新技术企业53家以上。") -> dict:
    return {
        "answer": text,
        "refused": refused,
        "extractive": False,
        "citations": [{"id": cid, "text": t, "twins": []} for cid, t in cites],
        "retrieved": [{"rank": 1, "text": retrieved_text, "also": []}],
        "timings": {"retrieve_ms": 10.0, "first_token_s": 2.0, "total_s": 3.0, "prompt_tokens": 150},
    }


def test_a_correct_answer_in_other_words_passes():
    assert figures_correct("53家以上", "今年忻州计划新认定的高新技术企业不少于53家。")
    assert figures_correct("约86.7亿元", "总投资大约86.7亿元")
    assert figures_correct("1.8 million kW (180万千瓦)", "180万千瓦")
    assert figures_correct("1.8 million kW (180万千瓦)", "Taiyuan aims for 1.8 million kW.")
    assert not figures_correct("53家以上", "忻州计划新认定高新技术企业35家。")
    assert figures_correct("2024年新增就业3150人", "3150人"), "a year written as 2024年 is not a required figure"


def test_list_and_yes_no_answers():
    assert items_correct("应县木塔、长城", "重点是长城和应县木塔两处。")
    assert not items_correct("应县木塔、长城", "只提到了长城。")
    assert polarity("是，已全部完成。") and not polarity("没有，报告未这样说。")
    assert not polarity("No, the report does not say so.")


def test_a_pasted_passage_is_not_concise():
    assert is_concise("忻州今年要新认定高新技术企业53家以上。[1]", "53家以上")
    pasted = "据报告：「支持龙头企业与高校、科研院所合作共建技术创新中心、产业技术研究院等技术研发平台，新认定高新技术企业53家以上。」[1]"
    assert not is_concise(pasted, "53家以上")
    assert not is_concise("很长的回答" * 30, "53家以上")


def test_a_citation_to_the_wrong_paragraph_counts_against_precision():
    right = ("000/a1/s4/p1", "大力推动科技创新。新认定高新技术企业53家以上。")
    wrong = ("000/a1/s4/p2", "新认定省级“专精特新”中小企业10家以上。")
    j = judge(q(), ans("新认定高新技术企业53家以上。[1][2]", cites=[right, wrong]), {})
    assert j["correct"] and j["citations_good"] == 1 and j["citations_total"] == 2
    m = answer_metrics([(q(), ans("x", cites=[right, wrong]), j)])
    assert m["overall"]["citation_precision"] == 0.5
    assert m["overall"]["citation_recall"] == 1.0
    only_wrong = judge(q(), ans("新认定高新技术企业53家以上。[1]", cites=[wrong]), {})
    assert only_wrong["citation_recall"] is False and only_wrong["cause"] == "unsupported citation"


def test_refusals_phrased_differently_are_recognised():
    for text in (
        "资料中未提及。",
        "资料中未提及忻州2023年的数据。",
        "报告中没有提及这一数字",
        "The reports do not say.",
        "This is not mentioned in the sources.",
    ):
        assert is_refusal(text), text
    assert not is_refusal("忻州今年要新认定高新技术企业53家以上。")


def test_refusal_accuracy_and_false_refusals():
    un = q("unanswerable", "资料中未提及", ["新认定高新技术企业53家以上"])
    rows = [
        (un, ans("资料中未提及", refused=True), judge(un, ans("资料中未提及", refused=True), {})),
        (q(), ans("资料中未提及", refused=True), judge(q(), ans("资料中未提及", refused=True), {})),
    ]
    m = answer_metrics(rows)["overall"]
    assert m["refusal_accuracy"] == 1.0 and m["false_refusal_rate"] == 1.0
    assert rows[1][2]["cause"] == "false refusal"
    missed = judge(un, ans("53家以上"), {})
    assert missed["correct"] is False and missed["cause"] == "missed refusal"


def test_compare_lists_improvements_and_regressions():
    prev = {"questions": [{"id": "a", "judgement": {"correct": False}}, {"id": "b", "judgement": {"correct": True}}]}
    now = [{"id": "a", "judgement": {"correct": True}}, {"id": "b", "judgement": {"correct": False}}]
    diff = compare(prev, now)
    assert diff["improved"] == ["a"] and diff["regressed"] == ["b"]
