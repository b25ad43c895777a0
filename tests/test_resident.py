"""`rag ask` handing its question to a running `rag serve`: when it does (same machine, same index,
same settings, alive) and when it answers itself; the forwarded answer equals the local one (real
server, real small model); a key the server needs, a busy or vanished server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from live_server import live_server
from need_model import require_model
from typer.testing import CliRunner

from api.main import create_app
from api.settings import ApiSettings
from rag import resident
from rag.cli.main import app as cli
from rag.errors import RagError
from rag.scope import Scope
from rag.settings import Settings

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
Q = "忻州今年要新认定多少家高新技术企业？"


def _env_settings(monkeypatch, index_dir, **env) -> Settings:
    """Settings as a `rag` process with these variables builds them (and the variables set, for the CLI)."""
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("RAG_SEEDS_DIR", str(SEEDS))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


@pytest.fixture
def private(seed_index, tmp_path):
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index.index_dir, index_dir)
    return index_dir


# --- finding the server -------------------------------------------------------------------------------
def test_a_ready_server_is_found_only_with_the_same_settings(private, monkeypatch):
    s = _env_settings(monkeypatch, private)
    assert resident.find(s) is None  # nothing announced
    path = resident.announce(s, "http://127.0.0.1:8123")
    assert path == private / resident.ANNOUNCEMENT
    found = resident.find(s)
    assert found is not None and found.where == ("127.0.0.1", 8123)
    assert resident.find(s.model_copy(update={"top_k": s.top_k + 1})) is None  # would answer differently
    assert resident.find(s.model_copy(update={"forward_to_server": False})) is not None  # a client-only switch
    resident.withdraw(s)
    assert not path.exists()


def test_a_dead_foreign_or_broken_announcement_is_ignored(private, monkeypatch):
    s = _env_settings(monkeypatch, private)
    path = private / resident.ANNOUNCEMENT
    base = {
        "url": "http://127.0.0.1:8123",
        "pid": os.getpid(),
        "machine": socket.gethostname(),
        "settings": resident.fingerprint(s),
    }
    for change in ({"pid": 2**22 + 12345}, {"machine": "another-host"}, {"url": None}, {"pid": "x"}):
        path.write_text(json.dumps({**base, **change}))
        assert resident.find(s) is None, change
    path.write_text("{not json")
    assert resident.find(s) is None


def test_withdraw_leaves_a_newer_servers_announcement(private, monkeypatch):
    s = _env_settings(monkeypatch, private)
    path = private / resident.ANNOUNCEMENT
    path.write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": os.getpid() + 1}))
    resident.withdraw(s)
    assert path.exists()


@pytest.mark.parametrize(
    "host,url",
    [
        ("0.0.0.0", "http://127.0.0.1:80"),
        ("::", "http://[::1]:80"),
        ("127.0.0.1", "http://127.0.0.1:80"),
        ("::1", "http://[::1]:80"),
    ],
)
def test_a_wildcard_bind_is_reached_through_loopback(host, url):
    assert resident.local_url(host, 80) == url


def test_nothing_listening_means_answering_here(private, monkeypatch):
    s = _env_settings(monkeypatch, private)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # a port that was free a moment ago: nobody listens
    resident.announce(s, f"http://127.0.0.1:{port}")
    with pytest.raises(resident.Unreachable):
        resident.ask(resident.find(s), Q, k=None, model=None, api_key=None)


# --- a real server --------------------------------------------------------------------------------------
@contextmanager
def _serve(settings: Settings, api: ApiSettings):
    """`rag serve`'s app (announcing itself) on a free loopback port; yields (base URL, app)."""

    def make(port: int):
        return create_app(settings, api.model_copy(update={"port": port}), announce=True)

    with live_server(make, ready=lambda: resident.find(settings) is not None) as served:
        yield served


def _answered(base: str, headers: dict | None = None) -> int:
    return httpx.get(f"{base}/readyz", headers=headers or {}).json()["queue"]["answered"]


@pytest.mark.llm
def test_rag_ask_uses_the_running_server_and_gets_the_local_answer(private, monkeypatch):
    s = _env_settings(monkeypatch, private, RAG_LLM__CHOICE="small")
    require_model(s, "small")
    with _serve(s, ApiSettings()) as (base, _):
        runner = CliRunner()
        forwarded = runner.invoke(cli, ["ask", "--json", Q])
        assert forwarded.exit_code == 0, forwarded.output
        assert _answered(base) == 1  # the server answered it
        streamed = runner.invoke(cli, ["ask", Q])  # the terminal path: server-sent events
        assert streamed.exit_code == 0, streamed.output
        assert _answered(base) == 2 and "answered by the running server" in streamed.output
        local = runner.invoke(cli, ["ask", "--json", "--local", Q])
        assert local.exit_code == 0, local.output
        assert _answered(base) == 2  # --local did not ask the server
    assert not (private / resident.ANNOUNCEMENT).exists()  # withdrawn at stop
    a, b = json.loads(forwarded.stdout.splitlines()[-1]), json.loads(local.stdout.splitlines()[-1])
    assert a["answer"] == b["answer"] and a["refused"] == b["refused"]
    assert [c["id"] for c in a["citations"]] == [c["id"] for c in b["citations"]]
    assert a["citations"] and a["citations"][0]["quote"] in streamed.output


def test_a_server_with_a_key_needs_it_and_other_settings_are_not_asked(private, monkeypatch):
    s = _env_settings(monkeypatch, private, RAG_LLM__CHOICE="small", RAG_LLM__BACKEND="mock")
    with _serve(s, ApiSettings(api_key="k1")) as (base, _):
        runner = CliRunner()
        no_key = runner.invoke(cli, ["ask", Q])
        assert no_key.exit_code == 1 and "RAG_API_API_KEY" in no_key.output and "Traceback" not in no_key.output
        monkeypatch.setenv("RAG_API_API_KEY", "k1")
        with_key = runner.invoke(cli, ["ask", "--json", Q])
        assert with_key.exit_code == 0, with_key.output
        assert _answered(base, {"Authorization": "Bearer k1"}) == 1
        monkeypatch.setenv("RAG_TOP_K", "3")  # another configuration: answered in the process
        other = runner.invoke(cli, ["ask", "--json", Q])
        assert other.exit_code == 0, other.output
        assert _answered(base, {"Authorization": "Bearer k1"}) == 1


def test_a_question_the_server_refuses_is_one_line(private, monkeypatch):
    s = _env_settings(monkeypatch, private, RAG_LLM__CHOICE="small", RAG_LLM__BACKEND="mock")
    with _serve(s, ApiSettings(max_question_chars=10)):
        with pytest.raises(RagError, match="refused the question"):
            resident.ask(resident.find(s), "这个问题明显超过了十个字的限制吧？", k=None, model=None, api_key=None)


def test_the_scope_goes_with_the_question_and_a_bad_one_is_the_servers_reason(private, monkeypatch):
    taiyuan = "002_6444904a722c13e8"  # 太原市's report; unscoped, 忻州市's report answers the question
    s = _env_settings(monkeypatch, private, RAG_LLM__CHOICE="small", RAG_LLM__BACKEND="mock")
    with _serve(s, ApiSettings()) as (base, _):
        runner = CliRunner()
        question = "今年要新认定多少家高新技术企业？"
        scoped = runner.invoke(cli, ["ask", "--json", "--doc", str(SEEDS / f"{taiyuan}.txt"), question])
        assert scoped.exit_code == 0, scoped.output
        assert _answered(base) == 1  # the server answered it, within the scope it was sent
        cited = {c["doc"] for c in json.loads(scoped.stdout.splitlines()[-1])["citations"]}
        assert cited == {taiyuan}
        bad = runner.invoke(cli, ["ask", "--place", "大同", question])
        lines = [ln for ln in bad.output.splitlines() if ln.strip()]
        assert bad.exit_code == 1 and len(lines) == 1 and "Traceback" not in bad.output, bad.output
        assert "refused the question: scope: no report of '大同' in the library" in lines[0]
    assert resident.request_scope(Scope.of(docs=["seeds/a.txt", "a.txt"], years=["2024"])) == {
        "docs": ["a.txt"],
        "years": [2024],
    }


def test_a_busy_server_is_waited_for_then_left(private, monkeypatch, hold_worker):
    s = _env_settings(monkeypatch, private, RAG_LLM__CHOICE="small", RAG_LLM__BACKEND="mock")
    with _serve(s, ApiSettings(max_queue=1, retry_after_s=1)) as (_, app):
        with hold_worker(app.state.services.queue, queued=0):
            t = time.monotonic()
            with pytest.raises(resident.Unreachable):
                resident.ask(resident.find(s), Q, k=None, model=None, api_key=None, busy_wait_s=2.5)
            assert time.monotonic() - t >= 2  # waited Retry-After twice before giving up


def test_the_ready_callback_runs_once_whether_registered_before_or_after_loading(private, monkeypatch):
    """`Services.when_ready` (how `rag serve` announces itself): a callback registered while
    loading runs when loading ends, one registered afterwards runs at once; each exactly once."""
    from api.services import Services

    s = _env_settings(monkeypatch, private, RAG_LLM__BACKEND="mock")
    services = Services(s, ApiSettings())
    calls: list[str] = []
    services.when_ready(lambda: calls.append("early"))
    assert calls == []
    services.install(object())  # reports ready without loading
    services.when_ready(lambda: calls.append("late"))
    services.install(object())  # ready again: nothing runs twice
    assert calls == ["early", "late"]
