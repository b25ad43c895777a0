"""The retrieval gates: the team's question set (seeds) and the development corpus question set must
each keep hit@5 at or above 0.95."""

from __future__ import annotations

from rag.evaluate.questions import Question, load_questions
from rag.evaluate.run import run_retrieval
from rag.evaluate.scoring import first_hit


def test_team_question_set_hit_at_5(retriever, repo_root):
    questions = load_questions(repo_root / "eval" / "questions.jsonl")
    metrics, records = run_retrieval(retriever, questions, k=10, progress=False)
    assert metrics["overall"]["n"] >= 50
    assert metrics["overall"]["hit@5"] >= 0.95, metrics["misses"]
    assert len(records) == len(questions) and all("retrieved" in r for r in records)


def test_corpus_question_set_hit_at_5(corpus_retriever, repo_root):
    questions = load_questions(repo_root / "eval" / "corpus-questions.jsonl")
    metrics, _ = run_retrieval(corpus_retriever, questions, k=10, progress=False)
    assert metrics["overall"]["n"] >= 130
    assert metrics["overall"]["hit@5"] >= 0.95, metrics["misses"]
    for doc, m in metrics["by_doc"].items():
        assert m["hit@5"] >= 0.7, (doc, m)


def test_hit_matching_ignores_whitespace_and_script():
    q = Question(id="x", question="?", answer="", doc=[], evidence=["人口人均纯收入达15869元"], type="number")
    results = [
        {"rank": 1, "text": "无关", "also": []},
        {"rank": 2, "text": "脱贫人 口 人 均 纯 收 入 达 15869 元 ，增 长", "also": []},
    ]
    assert first_hit(q, results) == 2
    q2 = Question(id="y", question="?", answer="", doc=[], evidence=["高新技術企業總數達到118家"], type="number")
    assert first_hit(q2, [{"rank": 1, "text": "高新技\n术企业总数达到118家。", "also": []}]) == 1
    assert first_hit(q2, [{"rank": 1, "text": "高新技术企业达到107家", "also": []}]) is None
