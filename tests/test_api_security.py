"""Hostile requests against the API: the key guards every route that holds data (found from the
app's routes, so a route added later is covered without editing this file), CORS answers only the
configured origins, path-like document ids never reach a file outside the index, deeply nested JSON
and oversized headers are a clear 4xx, never a 5xx. The raw-HTTP cases go over a real uvicorn (a
client library would normalise `..` away before sending)."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import threading
import time

import pytest
import uvicorn
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sample_report import REPORT

from api.main import create_app
from api.serve import uvicorn_options
from api.settings import ApiSettings
from rag.settings import LLMSettings

KEY = "s3cret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
# Routes that hold no data: the probes and the web page's own files.
OPEN = {"/healthz", "/readyz", "/", "/static/{name}"}
SECRET = "甲市内部资料：不得外传。"


def _routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, HEAD left to its GET."""
    out = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                out.append((method, route.path))
    return out


def _url(path: str) -> str:
    return path.replace("{doc_id}", "x").replace("{name}", "app.js")


# --- the API key -------------------------------------------------------------------------------------------
def test_every_route_but_the_probes_and_the_page_needs_the_key(seed_index):
    import api.security

    calls = []
    real = api.security.hmac.compare_digest
    app = create_app(seed_index, ApiSettings(api_key=KEY))
    routes = _routes(app)
    paths = {p for _, p in routes}
    for needed in (
        "/openapi.json",
        "/docs",
        "/v1/documents/{doc_id}/file",
        "/v1/documents/{doc_id}/text",
        "/v1/documents/{doc_id}",
        "/v1/ask",
        "/v1/chat/completions",
        "/v1/search",
        "/v1/models",
    ):
        assert needed in paths, needed
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(api.security.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
        client = TestClient(app, raise_server_exceptions=False)  # no lifespan: the key is checked first
        guarded = [(m, p) for m, p in routes if p not in OPEN]
        assert len(guarded) >= 11
        for method, path in guarded:
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": f"Basic {KEY}"},
                {"Authorization": f"Bearer {KEY}x"},
                {"Authorization": f"bearer  {KEY[:-1]}"},
            ):
                r = client.request(method, _url(path), headers=headers, json={})
                assert r.status_code == 401, (method, path, headers, r.text)
                assert r.json()["error"]["type"] == "authentication_error"
            r = client.request(method, _url(path), headers=AUTH, json={})
            assert r.status_code != 401 and r.status_code < 500 or r.status_code == 503, (method, path, r.text)
        for method, path in [(m, p) for m, p in routes if p in OPEN]:
            assert client.request(method, _url(path)).status_code in (200, 503), path  # 503: /readyz, not started
    assert calls, "the key must be compared with hmac.compare_digest"


def test_cors_answers_the_configured_origin_only(seed_index):
    app = create_app(seed_index, ApiSettings(cors_origins=["http://jia.example"]))
    client = TestClient(app)
    preflight = {
        "Origin": "http://jia.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type",
    }
    r = client.options("/v1/search", headers=preflight)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://jia.example"
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    r = client.options("/v1/search", headers={**preflight, "Origin": "http://yi.example"})
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    r = client.get("/healthz", headers={"Origin": "http://yi.example"})
    assert "access-control-allow-origin" not in r.headers
    off = TestClient(create_app(seed_index, ApiSettings()))
    assert "access-control-allow-origin" not in off.options("/v1/search", headers=preflight).headers


# --- a started service on a private index, and the same app over uvicorn --------------------------------------
@pytest.fixture(scope="module")
def served(seed_index, tmp_path_factory):
    root = tmp_path_factory.mktemp("security")
    index_dir = root / "index"
    shutil.copytree(seed_index.index_dir, index_dir)
    (root / "secret.txt").write_text(SECRET, encoding="utf-8")  # beside the index: must never be served
    (index_dir / "secret.txt").write_text(SECRET, encoding="utf-8")  # inside it, but not a document
    settings = seed_index.model_copy(update={"index_dir": index_dir, "llm": LLMSettings(backend="mock")})
    api_settings = ApiSettings(max_body_bytes=64 * 1024, max_upload_bytes=256 * 1024)
    app = create_app(settings, api_settings)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **uvicorn_options(api_settings))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while True:
        try:
            status, _ = _raw(port, "GET", "/readyz")
            if status == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "the server did not become ready"
        time.sleep(0.2)
    yield app, port, root
    server.should_exit = True
    thread.join(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raw(
    port: int, method: str, target: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One request with the target sent byte for byte (http.client does not normalise paths)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _documents(port: int) -> list[str]:
    status, body = _raw(port, "GET", "/v1/documents")
    assert status == 200
    return [d["id"] for d in json.loads(body)]


TRAVERSALS = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2e%2e",
    "..",
    "../secret",
    "..%2Fsecret",
    "..%5Csecret",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "%00",
    "secret%00.txt",
    "secret.txt",
    "secret",
    ".secret",
    "~%2Fsecret",
    "%252e%252e%252fsecret",
    "C:%5CWindows%5Cwin.ini",
]


@pytest.mark.parametrize("doc_id", TRAVERSALS)
def test_path_like_document_ids_are_a_4xx_and_reach_no_file(served, doc_id):
    app, port, root = served
    before = _documents(port)
    for method, suffix in [("GET", "/file"), ("GET", "/text"), ("DELETE", "")]:
        status, body = _raw(port, method, f"/v1/documents/{doc_id}{suffix}")
        assert 400 <= status < 500, (method, doc_id, suffix, status, body[:200])
        assert set(json.loads(body)) == {"error"}, body[:200]
        assert SECRET.encode() not in body and b"root:" not in body
    assert _documents(port) == before  # nothing deleted
    assert (root / "secret.txt").read_text(encoding="utf-8") == SECRET
    assert (root / "index" / "secret.txt").exists()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [100, 900, 5000, 10000])
@pytest.mark.parametrize(
    "path, wrap",
    [
        ("/v1/ask", "{body}"),
        ("/v1/ask", '{{"question": "甲市的目标？", "history": {body}}}'),
        ("/v1/search", '{{"question": {body}}}'),
        ("/v1/chat/completions", '{{"messages": [{{"role": "user", "content": "甲市？"}}], "x": {body}}}'),
        ("/v1/chat/completions", '{{"messages": [{{"role": "user", "content": {body}}}]}}'),
        ("/v1/documents", '{{"text": {body}}}'),
    ],
)
def test_deeply_nested_json_is_a_4xx(served, path, wrap, depth):
    app, port, _ = served
    body = wrap.format(body=_nested(depth)).encode()
    assert len(body) < 64 * 1024  # inside the body limit: the parser, not the limit, must refuse it
    status, answer = _raw(port, "POST", path, body, {"Content-Type": "application/json"})
    if path == "/v1/chat/completions" and "x" in wrap and depth < 1000:
        assert status == 200  # an unknown field is accepted and ignored, however nested
        return
    assert 400 <= status < 500, (path, depth, status, answer[:200])
    assert "error" in json.loads(answer)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Big": "甲" * 1 + "a" * 100_000},
        {f"X-H{i}": "v" * 20 for i in range(2000)},
        {"Authorization": "Bearer " + "k" * 100_000},
    ],
    ids=["one-100KB-header", "2000-headers", "100KB-authorization"],
)
def test_huge_headers_are_refused_with_a_431_not_a_5xx(served, headers):
    """The header block is bounded by the app (RAG_API_MAX_HEADER_BYTES): uvicorn's own limit lets a
    block that arrives in one read through (measured: a 100 KB header was served with 200), and one
    that arrives in several reads got h11's bare 400 and a reset (api.serve.uvicorn_options)."""
    app, port, _ = served
    headers = {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()}
    status, body = _raw(port, "GET", "/v1/models", headers=headers)
    assert status == 431, (status, body[:200])
    assert json.loads(body)["error"]["code"] == "headers_too_large"
    assert _raw(port, "GET", "/healthz")[0] == 200  # and it is still up


def test_a_huge_header_block_sent_in_pieces_gets_the_same_431(served):
    """A block that reaches the server over several reads (a slow client, a busy host) is answered
    like one that arrives at once: h11's smaller buffer used to answer it with a bare 400 and a reset."""
    app, port, _ = served
    block = b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + b"k" * 100_000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        for i in range(0, len(block), 4096):
            s.sendall(block[i : i + 4096])
            time.sleep(0.002)  # each piece its own read on the server
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            piece = s.recv(65536)
            if not piece:
                break
            reply += piece
    assert reply.startswith(b"HTTP/1.1 431"), reply[:200]
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "headers_too_large"


def test_many_small_headers_within_the_limit_are_served(served):
    app, port, _ = served
    status, body = _raw(port, "GET", "/v1/models", headers={f"X-H{i}": "v" for i in range(100)})
    assert status == 200, body[:200]


def test_an_upload_named_like_a_path_is_stored_under_a_server_id(served):
    app, port, root = served
    status, body = _raw(
        port, "POST", "/v1/documents?name=..%2F..%2Fx.txt", REPORT.encode(), {"Content-Type": "text/plain"}
    )
    assert status == 201, body[:300]
    doc_id = json.loads(body)["document"]["id"]
    assert doc_id.startswith("upload-") and "/" not in doc_id
    listed = next(d for d in json.loads(_raw(port, "GET", "/v1/documents")[1]) if d["id"] == doc_id)
    assert listed["name"] == "x.txt"
    assert not list(root.rglob("x.txt"))  # the client's name never became a path
    assert (root / "index" / "uploads" / f"{doc_id}.txt").exists()
    status, _ = _raw(port, "DELETE", f"/v1/documents/{doc_id}")
    assert status == 200
