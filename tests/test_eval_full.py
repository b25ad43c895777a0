"""A small full evaluation in CI: a handful of the team's questions through the whole pipeline with the
small model, held to thresholds. The complete run with the default model is `rag eval` (see README)."""

from __future__ import annotations

import pytest
from need_model import require_model

from rag.evaluate.questions import load_questions
from rag.evaluate.report import write_report
from rag.evaluate.run import run_full

pytestmark = pytest.mark.llm

# answerable questions from three reports (one in Traditional script) and two unanswerable ones
IDS = ["q001", "q104", "q076", "q049", "q116", "q129"]
THRESHOLDS = {"answer_accuracy": 0.5, "refusal_accuracy": 0.5, "citation_precision": 0.75, "citation_recall": 0.5}


def test_small_full_run_meets_thresholds(seed_index, retriever, repo_root, tmp_path):
    from rag.answer.assistant import Assistant

    require_model(seed_index, "small")
    questions = [q for q in load_questions(repo_root / "eval" / "questions.jsonl") if q.id in IDS]
    assert len(questions) == len(IDS)
    metrics, records = run_full(Assistant(seed_index, retriever), questions, "small", progress=False)
    overall = metrics["overall"]
    for key, minimum in THRESHOLDS.items():
        assert overall.get(key, 0) >= minimum, f"{key} {overall.get(key)} < {minimum}: {overall}"
    md = write_report(tmp_path / "small.json", metrics, records, "small", "pytest")
    assert "## Failures" in md.read_text(encoding="utf-8")
    # the model was loaded before the first question, so its load is reported apart from the latencies
    assert metrics["model_load_s"] > 0 and "Model load" in md.read_text(encoding="utf-8")
    assert {r["id"] for r in records} == set(IDS)
    assert all(r["timings"].get("total_s") is not None for r in records)
