"""The `rag` command's contract, with the mock model (no weights): JSON on stdout for `--json`,
one error line and exit code 1 for bad input, every command listed. Answers from the real model
through the CLI are tested in tests/test_assistant.py; forwarding to a server in tests/test_resident.py."""

from __future__ import annotations

import json
import os
import re

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from rag.answer.turn import Answer

Q = "忻州今年要新认定多少家高新技术企业？"


@pytest.fixture
def env(seed_index, monkeypatch):
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_INDEX_DIR", str(seed_index.index_dir))
    monkeypatch.setenv("RAG_SEEDS_DIR", str(seed_index.seeds_dir))
    monkeypatch.setenv("RAG_LLM__BACKEND", "mock")
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


@pytest.mark.parametrize(
    "args, words",
    [
        (["ask", "-k", "0", Q], "-k must be at least 1"),
        (["ask", "问" * 501], "question"),
        (["chunks", "--doc", "no-such-report"], "no document 'no-such-report'"),
    ],
)
def test_bad_input_is_one_error_line(env, args, words):
    line = _one_error_line(CliRunner().invoke(cli, args))
    assert words in line


def test_a_missing_index_is_one_error_line(env, monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "nothing-here"))
    _one_error_line(CliRunner().invoke(cli, ["search", Q]))


# --- scope: --doc, --place, --year, --level ------------------------------------------------------------------
TAIYUAN = "002_6444904a722c13e8"  # 太原市's report: it says nothing of new high-tech enterprises
Q_ANY_PLACE = "今年要新认定多少家高新技术企业？"  # without a scope, 忻州市's report answers it


def _docs(res) -> list[str]:
    assert res.exit_code == 0, res.output
    return [hit["doc"] for hit in json.loads(res.stdout)]


def test_a_scoped_search_returns_only_the_scoped_reports(env):
    runner = CliRunner()
    assert "000_e75e043d3f4bed66" in _docs(runner.invoke(cli, ["search", "--json", "-k", "5", Q_ANY_PLACE]))
    by_id = _docs(runner.invoke(cli, ["search", "--json", "-k", "5", "--doc", TAIYUAN, Q_ANY_PLACE]))
    by_path = _docs(runner.invoke(cli, ["search", "--json", "-k", "5", "--doc", f"seeds/{TAIYUAN}.txt", Q_ANY_PLACE]))
    assert by_id == by_path and len(by_id) == 5 and set(by_id) == {TAIYUAN}
    together = _docs(
        runner.invoke(
            cli,
            [
                "search",
                "--json",
                "-k",
                "10",
                "--place",
                "代县,太原",
                "--year",
                "2024",
                "--level",
                "county",
                Q_ANY_PLACE,
            ],
        )
    )
    assert together and set(together) == {"004_d43a798d97625b5b"}  # 代县 is the one county


def test_a_scoped_search_says_its_scope_above_the_results(env):
    res = CliRunner().invoke(cli, ["search", "-k", "2", "--place", "太原", "--year", "2024", Q_ANY_PLACE])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0] == "scope: places 太原; years 2024"
    unscoped = CliRunner().invoke(cli, ["search", "-k", "2", Q_ANY_PLACE])
    assert "scope:" not in unscoped.stdout


def test_a_scoped_answer_cites_only_the_scoped_reports(env):
    res = CliRunner().invoke(cli, ["ask", "--json", "--place", "太原市", Q_ANY_PLACE])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout.strip().splitlines()[-1])
    assert data["citations"] and {c["doc"] for c in data["citations"]} == {TAIYUAN}


def test_the_scope_of_a_chat_holds_for_every_question(env):
    res = CliRunner().invoke(cli, ["chat", "--doc", TAIYUAN], input=f"{Q_ANY_PLACE}\n那代县呢？\n/quit\n")
    assert res.exit_code == 0, res.output
    assert f"scope: documents {TAIYUAN}" in res.output
    cited = re.findall(r"· (\d{3}_[0-9a-f]{16})/", res.output)
    assert len(res.output.split("问>")) == 4 and cited and set(cited) == {TAIYUAN}, res.output


@pytest.mark.parametrize("command", [["search", Q], ["ask", Q], ["chat"]], ids=["search", "ask", "chat"])
@pytest.mark.parametrize(
    "scope, words",
    [
        (["--doc", "no-such-report"], "scope: no document 'no-such-report' in the library"),
        (["--place", "大同"], "scope: no report of '大同' in the library"),
        (["--year", "20x4"], "scope: '20x4' is not a year"),
        (["--year", "2019"], "scope: no report of 2019 in the library"),
        (["--level", "city"], "scope: unknown level 'city'"),
        (
            ["--place", "代县", "--level", "prefecture"],
            "scope: no report in the library is in places 代县; levels prefecture",
        ),
    ],
)
def test_a_bad_scope_is_one_error_line(env, command, scope, words):
    line = _one_error_line(CliRunner().invoke(cli, [*command, *scope], input="/quit\n"))
    assert words in line
