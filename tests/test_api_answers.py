"""What the real (small) model answers through the API: the native object equals `rag ask --json`
in content, and the OpenAI-compatible stream carries the figure and its citation. The routes
themselves are tested with the mock model in tests/test_api.py."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from live_server import private_index
from need_model import require_model
from test_api import Q_DAIXIAN, Q_XINZHOU, chunks, wait_ready
from typer.testing import CliRunner

from api.main import create_app
from api.settings import ApiSettings
from rag.settings import LLMSettings

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def served(seed_index, tmp_path_factory):
    require_model(seed_index, "small")
    settings = private_index(seed_index, tmp_path_factory, "api-answers", llm=LLMSettings(choice="small"))
    with TestClient(create_app(settings, ApiSettings()), raise_server_exceptions=False) as client:
        wait_ready(client)
        yield client, settings


def test_the_api_answers_as_rag_ask_does(served, monkeypatch):
    client, settings = served
    r = client.post("/v1/ask", json={"question": Q_XINZHOU})
    assert r.status_code == 200, r.text
    data = r.json()
    assert not data["refused"] and "53" in data["answer"], data["answer"]
    cited = [c for c in data["citations"] if "53" in c["quote"]]
    assert cited and cited[0]["doc"].startswith("000_")
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("RAG_LLM__CHOICE", "small")
    monkeypatch.setenv("RAG_SEEDS_DIR", str(settings.seeds_dir))
    res = CliRunner().invoke(__import__("rag.cli.main", fromlist=["app"]).app, ["ask", "--json", "--local", Q_XINZHOU])
    assert res.exit_code == 0, res.output
    local = json.loads(res.stdout.splitlines()[-1])
    assert (local["answer"], local["refused"]) == (data["answer"], data["refused"])
    assert [c["id"] for c in local["citations"]] == [c["id"] for c in data["citations"]]


def test_the_openai_stream_carries_the_figure_and_its_citation(served):
    client, _ = served
    body = {"model": "small", "messages": [{"role": "user", "content": Q_DAIXIAN}], "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        parts = chunks(r.read().decode("utf-8"))
    objs = [p for p in parts if isinstance(p, dict)]
    final = objs[-1]["choices"][0]
    assert final["finish_reason"] == "stop"
    assert final["delta"]["citations"] and "400" in final["delta"]["citations"][0]["quote"]
    assert "400" in "".join(o["choices"][0]["delta"].get("content") or "" for o in objs if o["choices"])
