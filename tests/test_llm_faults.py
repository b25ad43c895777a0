"""An LLM server (``RAG_LLM__BACKEND=openai``) that is down, slow or failing: the backend raises one
short error, the API answers 503 in its one-line error shape (streamed or not, on both answer
endpoints) and `rag ask` prints one error line; never a hang or a traceback. The server here is a
fake on loopback (the subject is error handling, not the model), with a small `timeout_s`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from work_bounds import HANG_S

from api.cli import app as cli
from api.main import create_app
from api.settings import ApiSettings
from rag.answer.llm import OpenAILLM
from rag.errors import LLMUnavailable
from rag.settings import LLMSettings

TIMEOUT_S = 1.0
# A hang guard, not a measurement (beside a CPU-heavy job a search alone can take seconds): the messages
# prove that the client's own timeout fired. Below the slow fake's 60 s of silence, so a client that
# waited on it would fail here too.
NO_HANG_S = 45
Q = "忻州今年要新认定多少家高新技术企业？"
PROMPT = [{"role": "system", "content": "你是助手。"}, {"role": "user", "content": "资料：\n[1]（甲市）……\n\n问题：？"}]
# what a failing server says: long, on several lines, with a traceback in it
REASON = "model crashed: CUDA error: out of memory\nTraceback (most recent call last):\n" + "  frame\n" * 80
MODELS = {"object": "list", "data": [{"id": "default", "object": "model"}]}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, *args) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._serve()

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve(self) -> None:
        mode, chat = self.server.mode, self.command == "POST"
        if mode == "slow":  # accepts, then says nothing until the test ends
            self.server.release.wait(60)
            self.close_connection = True
        elif mode == "error":
            self._send(500, json.dumps({"error": {"message": REASON, "type": "server_error"}}).encode())
        elif mode == "garbage":
            self._send(200, b"<html><body><h1>It works!</h1>\n<p>default page</p></body></html>", "text/html")
        elif not chat:
            self._send(200, json.dumps(MODELS).encode())
        elif mode == "chat-error":  # the model list is fine, the chat route fails
            self._send(502, ("<html><pre>" + REASON + "</pre></html>").encode(), "text/html")
        elif mode == "cut":  # one piece of the reply, then the connection closes
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            chunk = {"choices": [{"index": 0, "delta": {"content": "甲市"}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.close_connection = True


class FakeServer(ThreadingHTTPServer):
    """An OpenAI-compatible server that misbehaves as `mode` says: slow, error (500 with a long
    reason), garbage (200 with a web page), chat-error (models listed, chat fails), cut (the
    reply stops half-way)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = "error"
        self.release = threading.Event()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"


@pytest.fixture(scope="module")
def fake():
    server = FakeServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def _closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def _settings(seed_index, base_url: str, **update):
    return seed_index.model_copy(
        update={"llm": LLMSettings(backend="openai", base_url=base_url, timeout_s=TIMEOUT_S), **update}
    )


def _one_line(message: str) -> str:
    assert "\n" not in message and "Traceback (most recent" not in message, message
    assert len(message) < 300, f"{len(message)} characters: {message}"
    return message


# --- the backend ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "mode, says",
    [
        ("slow", f"did not answer within {TIMEOUT_S:g} s"),
        ("error", "the LLM server answered 500: model crashed: CUDA error: out of memory…"),
        ("garbage", "not an event stream: <html>"),
        ("chat-error", "the LLM server answered 502: model crashed: CUDA error: out of memory…"),
        ("cut", "ended the reply before it was complete"),
    ],
)
def test_a_failing_server_is_one_short_error_from_the_backend(seed_index, fake, mode, says):
    fake.mode = mode
    llm = OpenAILLM(_settings(seed_index, fake.url), "default")
    t0 = time.monotonic()
    with pytest.raises(LLMUnavailable) as info:
        list(llm.stream(PROMPT))
    assert time.monotonic() - t0 < NO_HANG_S
    assert says in _one_line(str(info.value))
    assert llm.count_tokens(PROMPT) > 0  # an estimate when the server cannot count
    assert time.monotonic() - t0 < NO_HANG_S + 10
    llm.close()


def test_the_check_before_a_question_passes_only_a_server_that_answers(seed_index, fake):
    llm = OpenAILLM(_settings(seed_index, fake.url), "default")
    for mode in ("cut", "chat-error"):  # the model list is served: the failure comes with the answer
        fake.mode = mode
        llm.check()
    for mode in ("slow", "error", "garbage"):
        fake.mode = mode
        with pytest.raises(LLMUnavailable):
            llm.check()
    llm.close()
    down = OpenAILLM(_settings(seed_index, _closed_url()), "default")
    with pytest.raises(LLMUnavailable, match="cannot be reached"):
        down.check()


# --- the API ------------------------------------------------------------------------------------------------
def _app(seed_index, base_url: str, dest):
    shutil.copytree(seed_index.index_dir, dest)
    settings = _settings(seed_index, base_url, index_dir=dest)
    client = TestClient(create_app(settings, ApiSettings(api_key=None, cors_origins=[])))
    client.__enter__()
    deadline = time.monotonic() + 120
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the service did not become ready"
        time.sleep(0.2)
    return client


@pytest.fixture(scope="module")
def api(seed_index, fake, tmp_path_factory):
    """The service with the fake LLM server, and one with an LLM server that is down."""
    clients = {
        "fake": _app(seed_index, fake.url, tmp_path_factory.mktemp("llm-fake") / "index"),
        "down": _app(seed_index, _closed_url(), tmp_path_factory.mktemp("llm-down") / "index"),
    }
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)


REQUESTS = [
    ("/v1/ask", {"question": Q}),
    ("/v1/ask", {"question": Q, "stream": True}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": Q}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": Q}], "stream": True}),
]
REQUEST_IDS = ["ask", "ask-stream", "chat", "chat-stream"]


@pytest.mark.parametrize("path, body", REQUESTS, ids=REQUEST_IDS)
@pytest.mark.parametrize(
    "mode, says",
    [
        ("down", "cannot be reached (ConnectError)"),
        ("slow", f"did not answer within {TIMEOUT_S:g} s"),
        ("error", "the LLM server answered 500: model crashed"),
        ("garbage", "sent no model list: <html>"),
    ],
)
def test_an_llm_server_down_slow_or_failing_is_a_one_line_503(api, fake, mode, says, path, body):
    client = api["down" if mode == "down" else "fake"]
    fake.mode = mode
    t0 = time.monotonic()
    r = client.post(path, json=body)
    assert time.monotonic() - t0 < NO_HANG_S
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert len(r.text.strip().splitlines()) == 1
    error = r.json()["error"]
    assert error["type"] == "service_unavailable" and error["code"] == "llm_unavailable", error
    assert says in _one_line(error["message"])


@pytest.mark.parametrize("path, body", REQUESTS, ids=REQUEST_IDS)
def test_a_chat_route_that_fails_after_the_check_is_a_503_or_a_stream_error_event(api, fake, path, body):
    """The model list answered, the chat route did not: without streaming still a 503; a stream has
    begun (its evidence is out), so it ends with one error event of the same shape."""
    fake.mode = "chat-error"
    r = client_post = api["fake"].post(path, json=body)
    if not body.get("stream"):
        assert r.status_code == 503, r.text
        error = r.json()["error"]
    else:
        assert client_post.status_code == 200
        payloads = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
        errors = [p["error"] for p in payloads if "error" in p]
        assert len(errors) == 1, r.text
        error = errors[0]
    assert error["type"] == "service_unavailable" and error["code"] == "llm_unavailable", error
    assert "the LLM server answered 502" in _one_line(error["message"])


# --- the command line -------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(seed_index, monkeypatch):
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_INDEX_DIR", str(seed_index.index_dir))
    monkeypatch.setenv("RAG_SEEDS_DIR", str(seed_index.seeds_dir))
    monkeypatch.setenv("RAG_LLM__BACKEND", "openai")
    monkeypatch.setenv("RAG_LLM__TIMEOUT_S", str(TIMEOUT_S))
    monkeypatch.setenv("RAG_FORWARD_TO_SERVER", "false")
    return monkeypatch


@pytest.mark.parametrize("mode, says", [("down", "cannot be reached"), ("error", "answered 500")])
def test_rag_ask_with_an_llm_server_down_or_failing_is_one_error_line(cli_env, fake, mode, says):
    fake.mode = mode
    cli_env.setenv("RAG_LLM__BASE_URL", _closed_url() if mode == "down" else fake.url)
    t0 = time.monotonic()
    res = CliRunner().invoke(cli, ["ask", Q])
    assert time.monotonic() - t0 < HANG_S  # a hang guard: the index and the embedder load too
    assert res.exit_code == 1, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: the LLM server"), res.output
    assert says in lines[0] and "Traceback" not in res.output
