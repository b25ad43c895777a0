"""`rag eval` (rag/cli/eval.py) on the seed index, retrieval only (the embedder, no language model):
metrics on stdout, one JSON line per question in --out, the hit@5 gate and one-line errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from rag.cli.main import app

QUESTIONS = [
    {
        "id": "t1",
        "question": "代县全县5G基站要达到多少座？",
        "answer": "400座",
        "doc": [],
        "evidence": ["400座"],
        "type": "number",
    },
    {
        "id": "t2",
        "question": "甲市的地铁通车里程是多少？",
        "answer": "",
        "doc": [],
        "evidence": ["地铁通车里程"],
        "type": "number",
    },
]


def _questions(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path


def test_retrieval_only_writes_metrics_and_one_line_per_question(seed_index, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_INDEX_DIR", str(seed_index.index_dir))
    out = tmp_path / "out" / "r.jsonl"
    res = CliRunner().invoke(
        app,
        ["eval", "--retrieval-only", "--json", "--questions", str(_questions(tmp_path)), "--out", str(out), "-k", "5"],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads(res.stdout)
    assert metrics["overall"]["n"] == 2 and metrics["overall"]["hit@5"] == 0.5
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["t1", "t2"]
    assert rows[0]["hit_rank"] is not None and rows[1]["hit_rank"] is None
    assert len(rows[0]["retrieved"]) == 5


def test_the_hit5_gate_and_errors_exit_1(seed_index, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_INDEX_DIR", str(seed_index.index_dir))
    questions = str(_questions(tmp_path))
    gate = CliRunner().invoke(
        app, ["eval", "--retrieval-only", "--json", "--questions", questions, "--min-hit5", "0.9"]
    )
    assert gate.exit_code == 1 and "below the gate 0.9" in gate.stderr
    model = CliRunner().invoke(app, ["eval", "--questions", questions, "--model", "huge"])  # refused before loading
    assert model.exit_code == 1 and model.stderr.strip() == "error: unknown model 'huge'; choose default or small"
    missing = CliRunner().invoke(app, ["eval", "--retrieval-only", "--questions", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 1 and len(missing.stderr.strip().splitlines()) == 1
