"""The `rag` command's contract, with the mock model (no weights): JSON on stdout for `--json`,
one error line and exit code 1 for bad input, every command listed. Answers from the real model
through the CLI are tested in tests/test_answer.py; forwarding to a server in tests/test_resident.py."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from rag.answer import Answer
from rag.cli import app as cli

Q = "忻州今年要新认定多少家高新技术企业？"


@pytest.fixture
def env(seed_index, monkeypatch):
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_INDEX_DIR", str(seed_index.index_dir))
    monkeypatch.setenv("RAG_SEEDS_DIR", str(seed_index.seeds_dir))
    monkeypatch.setenv("RAG_LLM_BACKEND", "mock")
    monkeypatch.setenv("RAG_FORWARD_TO_SERVER", "false")
    return seed_index


def _one_error_line(res) -> str:
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in res.output, res.output
    return lines[0]


def test_every_command_is_listed():
    res = CliRunner().invoke(cli, ["--help"])
    assert res.exit_code == 0
    for command in ("ask", "chat", "search", "index", "ingest", "chunks", "eval", "serve", "models"):
        assert command in res.output, command


def test_ask_json_prints_one_answer_object(env):
    res = CliRunner().invoke(cli, ["ask", "--json", Q])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(data) == set(Answer("q", "a", False, [], [], {}).to_dict())
    assert data["question"] == Q and data["citations"] and "53" in data["citations"][0]["quote"]


def test_ask_on_the_terminal_shows_evidence_answer_and_citations(env):
    res = CliRunner().invoke(cli, ["ask", Q])
    assert res.exit_code == 0, res.output
    assert "evidence:" in res.output and "answer:" in res.output and "[1]" in res.output
    assert "first token" in res.output  # the time line (stderr)


def test_search_json_prints_the_ranked_passages(env):
    res = CliRunner().invoke(cli, ["search", "--json", "-k", "3", Q])
    assert res.exit_code == 0, res.output
    hits = json.loads(res.stdout)
    assert len(hits) == 3 and "53" in hits[0]["text"]


@pytest.mark.parametrize("args, words", [
    (["ask", "-k", "0", Q], "-k must be at least 1"),
    (["ask", "问" * 501], "question"),
    (["chunks", "--doc", "no-such-report"], "no document 'no-such-report'"),
])
def test_bad_input_is_one_error_line(env, args, words):
    line = _one_error_line(CliRunner().invoke(cli, args))
    assert words in line


def test_a_missing_index_is_one_error_line(env, monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "nothing-here"))
    _one_error_line(CliRunner().invoke(cli, ["search", Q]))
