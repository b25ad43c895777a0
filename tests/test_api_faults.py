"""Failures inside the service, with the service container replaced through `dependency_overrides`:
an unexpected exception is a 500 in the error shape (never a traceback), in a stream an `error`
event; a service that is still loading is a 503 with Retry-After. The dependencies of `api.dependencies`
(readiness, the assistant, the API key) can each be replaced the same way."""

from __future__ import annotations

import json

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from need_model import require_model

from api.dependencies import get_readiness, get_services, require_api_key, require_ready
from api.errors import AUTH, UNAVAILABLE, ApiError
from api.health.schemas import Ready
from api.main import create_app
from api.services import Services, load_catalog
from api.settings import ApiSettings


class BrokenAssistant:
    """Retrieval works, answering blows up with an internal error."""

    def __init__(self, retriever):
        self.retriever = retriever
        self._llms = {}
        self.loaded_models = []

    def check_model(self, name=None):
        """Its model is there (the failure comes with the answer)."""

    def ask(self, question, **kwargs):
        raise RuntimeError("secret internal detail at /srv/app.py line 42")

    def llm(self, name=None):
        raise RuntimeError("secret internal detail")


@pytest.fixture(scope="module")
def app_with(seed_index, retriever):
    def make(ready: bool):
        api_settings = ApiSettings(retry_after_s=7)
        services = Services(seed_index, api_settings)
        if ready:
            services.install(BrokenAssistant(retriever), load_catalog(seed_index, api_settings))
        app = create_app(seed_index, api_settings)
        app.dependency_overrides[get_services] = lambda: services
        return TestClient(app, raise_server_exceptions=False), services

    return make


def test_an_internal_error_is_a_500_without_details(app_with):
    client, services = app_with(ready=True)
    for path, body in [
        ("/v1/ask", {"question": "忻州今年要新认定多少家高新技术企业？"}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "忻州今年的目标？"}]}),
    ]:
        r = client.post(path, json=body)
        assert r.status_code == 500
        assert r.json() == {
            "error": {
                "message": "internal error; the server log has the details",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
        assert "secret" not in r.text and "Traceback" not in r.text
    assert services.queue.admitted == 0 and services.queue.stats["failed"] == 2
    assert client.post("/v1/search", json={"question": "忻州", "k": 2}).status_code == 200


def test_an_internal_error_in_a_stream_is_an_error_event(app_with):
    client, services = app_with(ready=True)
    r = client.post("/v1/ask", json={"question": "忻州今年要新认定多少家高新技术企业？", "stream": True})
    assert r.status_code == 200
    assert "event: error" in r.text and "secret" not in r.text
    r = client.post("/v1/chat/completions", json={"stream": True, "messages": [{"role": "user", "content": "忻州？"}]})
    datas = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert datas[-1] == "[DONE]"
    assert json.loads(datas[-2])["error"]["type"] == "server_error" and "secret" not in r.text
    assert services.queue.admitted == 0


def test_a_service_still_loading_is_a_503_with_retry_after(app_with):
    client, _ = app_with(ready=False)
    for method, path, body in [
        ("POST", "/v1/ask", {"question": "x"}),
        ("POST", "/v1/search", {"question": "x"}),
        ("GET", "/v1/documents", None),
        ("GET", "/v1/models", None),
    ]:
        r = client.request(method, path, json=body)
        assert r.status_code == 503 and r.headers["retry-after"] == "7", (path, r.text)
        assert r.json()["error"]["code"] == "not_ready"
    assert client.get("/healthz").status_code == 200


def test_readiness_is_a_replaceable_dependency(app_with):
    """What `/readyz` reports (`get_readiness`) and the readiness guard of the data routes
    (`require_ready`), each replaced through `app.dependency_overrides`."""
    client, _ = app_with(ready=True)
    app = client.app
    assert client.get("/readyz").json()["error"] == "not started"  # the probe reports the app's own lifespan
    up = Ready(ready=True, index=True, models={"small": True}, documents=5, chunks=300, queue={})
    app.dependency_overrides[get_readiness] = lambda: up
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json() == up.model_dump()
    draining = up.model_copy(update={"ready": False, "error": "draining"})
    app.dependency_overrides[get_readiness] = lambda: draining
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json() == draining.model_dump()

    assert client.post("/v1/search", json={"question": "忻州", "k": 1}).status_code == 200

    def closed():
        raise ApiError(503, "closed for maintenance", UNAVAILABLE, code="maintenance")

    app.dependency_overrides[require_ready] = closed
    for method, path, body in [
        ("POST", "/v1/search", {"question": "忻州"}),
        ("GET", "/v1/documents", None),
        ("GET", "/v1/models", None),
        ("POST", "/v1/ask", {"question": "忻州？"}),
        ("DELETE", "/v1/documents/x", None),
    ]:
        r = client.request(method, path, json=body)
        assert r.status_code == 503 and r.json()["error"]["code"] == "maintenance", (path, r.text)
    assert client.get("/healthz").status_code == 200


def test_the_key_check_is_a_replaceable_dependency(app_with, seed_index):
    """`require_api_key` replaced through `app.dependency_overrides`: by nothing (a gateway in front
    checks callers) on a server with a key, by another check on a server without one."""
    _, services = app_with(ready=True)
    keyed = create_app(seed_index, ApiSettings(api_key="k"))
    keyed.dependency_overrides[get_services] = lambda: services
    client = TestClient(keyed, raise_server_exceptions=False)
    assert client.get("/v1/models").status_code == 401 and client.get("/openapi.json").status_code == 401
    keyed.dependency_overrides[require_api_key] = lambda: None
    assert client.get("/v1/models").status_code == 200 and client.get("/openapi.json").status_code == 200

    def only_tokens(request: Request) -> None:
        if request.headers.get("x-token") != "t":
            raise ApiError(401, "no token", AUTH, code="invalid_api_key")

    open_app = create_app(seed_index, ApiSettings())
    open_app.dependency_overrides[get_services] = lambda: services
    open_app.dependency_overrides[require_api_key] = only_tokens
    client = TestClient(open_app, raise_server_exceptions=False)
    assert client.get("/v1/models").status_code == 401
    assert client.get("/v1/models", headers={"X-Token": "t"}).status_code == 200
    assert client.get("/healthz").status_code == 200  # the probes never ask for it


# --- a server killed (SIGKILL) in the middle of a write or of an answer -------------------------------------------
# A real server process (`rag serve`), armed by tests/kill_at.py to kill itself at a point of the upload's
# write; then restarted on the same folder. The mock answerer is enough for the upload: the upload is about
# the files, the chunk store and the index; the answer case uses the small model (tests marked llm).
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402
from sample_report import Q_UPLOAD, REPORT  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
KILL_AT = Path(__file__).with_name("kill_at.py")
QUESTIONS = [
    "忻州今年要新认定多少家高新技术企业？",
    "代县今年全县5G基站要达到多少座？",
    "今年要新建多少个智慧农业示范园区？",
]


class Server:
    """`rag serve` in its own process on a free port (killed at `kill` when given)."""

    def __init__(self, settings, env: dict[str, str], kill: str | None = None, n: int = 1):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        head = [sys.executable, str(KILL_AT), kill, str(n), "--"] if kill else [sys.executable, "-m", "api.cli"]
        self.log = open(Path(settings.index_dir).parent / f"server-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*head, "serve", "--port", str(self.port), "--log-level", "warning"],
            cwd=REPO,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "RAG_INDEX_DIR": str(settings.index_dir),
                "RAG_SEEDS_DIR": str(settings.seeds_dir),
                "RAG_API_API_KEY": "",
                **env,
            },
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def ready(self, timeout: float = 300) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                r = httpx.get(self.url + "/readyz", timeout=5)
                if r.status_code == 200:
                    return self
                assert not r.json().get("error"), r.text
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise AssertionError("the server did not become ready:\n" + self.output())

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")[-3000:]

    def search(self, question: str) -> list:
        r = httpx.post(self.url + "/v1/search", json={"question": question, "k": 5}, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()

    def documents(self) -> list[str]:
        return sorted(d["id"] for d in httpx.get(self.url + "/v1/documents", timeout=60).json())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _copy(seed_index, dest: Path):
    import shutil

    shutil.copytree(seed_index.index_dir, dest)
    return seed_index.model_copy(update={"index_dir": dest})


def _leftovers(index_dir: Path) -> list[str]:
    from rag.files import stale_tmp_files
    from rag.search.index import read_manifest
    from rag.settings import Settings

    named = read_manifest(Settings(index_dir=index_dir))["build_dir"]
    out = [p.name for p in index_dir.glob("build-*") if p.name != named]
    out += [p.name for p in index_dir.glob(".change.json")]
    for folder in (index_dir, index_dir / "cache", index_dir / "uploads"):
        out += [p.name for p in stale_tmp_files(folder)]
    out += [p.name for p in (index_dir / "uploads").glob(".*.removed")]
    return out


MOCK = {"RAG_LLM__BACKEND": "mock"}


# (kill point, whether the upload is there after the restart): killed before the chunk store's commit the
# upload is undone at the restart; after it, the index it belongs to is published and the upload kept
@pytest.mark.parametrize("point,kept", [("upload", False), ("embed", False), ("store-write", False), ("commit", True)])
def test_an_upload_killed_mid_write_is_undone_or_finished_at_the_restart(seed_index, tmp_path, point, kept):
    settings = _copy(seed_index, tmp_path / "index")
    server = Server(settings, MOCK, kill=point).ready()
    try:
        before = [server.search(q) for q in QUESTIONS]
        docs = server.documents()
        with pytest.raises(httpx.TransportError):
            httpx.post(server.url + "/v1/documents", json={"name": "丙市.txt", "text": REPORT}, timeout=120)
        assert server.proc.wait(30) == -signal.SIGKILL
    finally:
        server.stop()
    server = Server(settings, MOCK).ready()
    try:
        after = server.documents()
        if kept:
            assert len(after) == len(docs) + 1
            new = (set(after) - set(docs)).pop()
            assert server.search(Q_UPLOAD)[0]["doc"] == new
            assert new in json.loads((settings.index_dir / "uploads" / "uploads.json").read_text(encoding="utf-8"))
        else:
            assert after == docs
            assert [server.search(q) for q in QUESTIONS] == before
            assert not list((settings.index_dir / "uploads").glob("upload-*"))
        assert _leftovers(settings.index_dir) == []
        # and the library takes the same upload normally afterwards
        r = httpx.post(
            server.url + "/v1/documents", json={"name": "丙市.txt", "text": REPORT.replace("37", "38")}, timeout=300
        )
        assert r.status_code == 201, r.text
    finally:
        server.stop()


@pytest.mark.llm
def test_a_server_killed_while_streaming_an_answer_answers_the_same_after_a_restart(seed_index, tmp_path):
    """Killed after a few tokens of a streamed answer; restarted, the same question streams the same
    tokens, and the prompt-prefix file written before the kill is loaded, not rewritten."""

    require_model(seed_index, "small")
    settings = _copy(seed_index, tmp_path / "index")
    kv = tmp_path / "kv"
    env = {"RAG_LLM__CHOICE": "small", "RAG_PREFIX_CACHE_DIR": str(kv)}
    body = {"question": QUESTIONS[0], "stream": True}

    def stream(server: Server) -> list:
        tokens = []
        try:
            with httpx.stream("POST", server.url + "/v1/ask", json=body, timeout=300) as r:
                kind = None
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: ") and kind == "token":
                        tokens.append(json.loads(line[6:]))
        except httpx.TransportError:
            pass
        return tokens

    server = Server(settings, env, kill="token", n=6).ready()
    try:
        cut = stream(server)
        assert server.proc.wait(30) == -signal.SIGKILL
    finally:
        server.stop()
    assert 0 < len(cut) <= 6
    files = sorted(kv.glob("prefix-*.kv"))
    assert files and not list(kv.glob(".*"))  # written whole before the answer, no temporary file left
    stamp = [f.stat().st_ino for f in files]  # a rewrite is a new file renamed into place (a load only touches it)
    server = Server(settings, env).ready()
    try:
        full = stream(server)
        again = stream(server)
    finally:
        server.stop()
    assert full == again and len(full) > len(cut) and full[: len(cut)] == cut
    assert [f.stat().st_ino for f in sorted(kv.glob("prefix-*.kv"))] == stamp  # loaded, not rebuilt
