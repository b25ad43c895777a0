"""A `RagError`'s class says what kind of failure it is, and the API answers with the status the class
carries: 404 for a document the library does not hold, 409 for an upload already in it, 503 when
the LLM server cannot be reached. Through the real app, on a private copy of the seed index."""

from __future__ import annotations

import shutil
import socket
import time

import pytest
from fastapi.testclient import TestClient

from api.errors import CONFLICT, INVALID, NOT_FOUND, UNAVAILABLE, rag_error_status, stream_error
from api.main import create_app
from api.settings import ApiSettings
from rag.errors import (
    Conflict,
    DocumentNotFound,
    DuplicateReport,
    InvalidReport,
    LastDocument,
    NotFound,
    RagError,
    Unavailable,
    Unprocessable,
)
from rag.settings import LLMSettings


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (RagError("bad"), (400, INVALID, None)),
        (NotFound("gone"), (404, NOT_FOUND, None)),
        (Conflict("clash"), (409, CONFLICT, None)),
        (Unprocessable("not a report"), (422, INVALID, None)),
        (Unavailable("down"), (503, UNAVAILABLE, None)),
        (DocumentNotFound("no document 'x'"), (404, NOT_FOUND, "document_not_found")),
        (DuplicateReport("again"), (409, CONFLICT, "duplicate_document")),
        (LastDocument("last"), (409, CONFLICT, "last_document")),
        (InvalidReport("empty"), (422, INVALID, "invalid_report")),
    ],
)
def test_the_class_carries_the_status(exc, expected):
    assert isinstance(exc, RagError)
    assert rag_error_status(exc) == expected
    status, kind, code = expected
    assert stream_error(exc) == {"error": {"message": str(exc), "type": kind, "param": None, "code": code}}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(client: TestClient, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.2)


def _client(seed_index, tmp_path, llm: LLMSettings):
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index.index_dir, index_dir)
    app = create_app(seed_index.model_copy(update={"index_dir": index_dir, "llm": llm}), ApiSettings())
    return TestClient(app, raise_server_exceptions=False)


def test_statuses_through_the_app(seed_index, tmp_path):
    with _client(seed_index, tmp_path, LLMSettings(backend="mock", choice="small")) as client:
        _ready(client)
        r = client.delete("/v1/documents/no-such-report")
        assert r.status_code == 404
        assert r.json()["error"] == {
            "message": "no document 'no-such-report'",
            "type": NOT_FOUND,
            "param": None,
            "code": "document_not_found",
        }
        seed = sorted(seed_index.seeds_dir.glob("*.txt"))[0]
        r = client.post("/v1/documents", json={"name": "again.txt", "text": seed.read_text(encoding="utf-8")})
        assert r.status_code == 409, r.text
        assert r.json()["error"]["type"] == CONFLICT and r.json()["error"]["code"] == "duplicate_document"


def test_an_unreachable_llm_server_is_a_503(seed_index, tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    llm = LLMSettings(backend="openai", base_url=url, choice="default", timeout_s=5)
    with _client(seed_index, tmp_path, llm) as client:
        _ready(client)
        for path, body in [
            ("/v1/ask", {"question": "忻州今年要新认定多少家高新技术企业？"}),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": "忻州今年的目标？"}]}),
        ]:
            r = client.post(path, json=body)
            assert r.status_code == 503, r.text
            error = r.json()["error"]
            assert error["type"] == UNAVAILABLE and error["message"].startswith(f"the LLM server at {url} cannot be")
