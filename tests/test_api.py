"""HTTP API routes with the real app, the real index of the seeds (a private copy: uploads change it)
and the mock model (`RAG_LLM__BACKEND=mock`: it quotes the passage sentence nearest the question, so
no weights are needed and nothing skips): answers, streaming, the OpenAI-compatible endpoint, search,
documents, limits, the answer queue, the API key, CORS and a bad-input matrix over every endpoint.
What the real model says through the API is tested in tests/test_api_answers.py and
tests/test_api_live.py."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sample_report import Q_UPLOAD, REPORT
from typer.testing import CliRunner

from api.main import create_app
from api.settings import ApiSettings
from rag.settings import LLMSettings

Q_XINZHOU = "忻州今年要新认定多少家高新技术企业？"
Q_DAIXIAN = "代县今年全县5G基站要达到多少座？"
PDF_DATA = Path(__file__).parent / "data" / "pdf"


def copy_index(seed_index, dest):
    """Settings on a private copy of the seed index, answering with the mock model (as "small")."""
    shutil.copytree(seed_index.index_dir, dest)
    return seed_index.model_copy(update={"index_dir": dest, "llm": LLMSettings(backend="mock", choice="small")})


def wait_ready(client: TestClient, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get("/readyz")
        body = r.json()
        if r.status_code == 200:
            return body
        assert not body.get("error"), body
        time.sleep(0.2)
    raise AssertionError("the service did not become ready")


def sse(text: str) -> list[tuple[str, object]]:
    """(event, data) pairs of a native event stream."""
    out = []
    for block in text.strip().split("\n\n"):
        kind, data = "message", None
        for line in block.splitlines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        out.append((kind, data))
    return out


def chunks(text: str) -> list[dict | str]:
    """The `data:` payloads of an OpenAI stream ([DONE] kept as a string)."""
    out: list[dict | str] = []
    for line in text.splitlines():
        if line.startswith("data: "):
            payload = line[6:]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


@pytest.fixture(scope="module")
def env(seed_index, tmp_path_factory):
    settings = copy_index(seed_index, tmp_path_factory.mktemp("api") / "index")
    api_settings = ApiSettings(
        max_queue=2,
        retry_after_s=3,
        max_body_bytes=16 * 1024,
        max_upload_bytes=64 * 1024,
        api_key=None,
        cors_origins=[],
    )
    app = create_app(settings, api_settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_ready(client)
        yield client, app.state.services, settings


@pytest.fixture
def client(env) -> TestClient:
    return env[0]


@pytest.fixture
def services(env):
    return env[1]


# --- health and models ---------------------------------------------------------------------------------
def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["ready"] and ready["index"] and ready["models"] == {"small": True}
    assert ready["documents"] == 5 and ready["chunks"] > 200


def test_models_lists_the_configured_models(client):
    data = client.get("/v1/models").json()
    assert data["object"] == "list"
    by_id = {m["id"]: m for m in data["data"]}
    assert set(by_id) == {"gov-report-rag", "gov-report-rag-small"}
    assert by_id["gov-report-rag-small"]["default"] and by_id["gov-report-rag-small"]["name"] == "small"
    assert by_id["gov-report-rag-small"]["loaded"] and all(m["object"] == "model" for m in data["data"])


# --- search ----------------------------------------------------------------------------------------------
def test_search_returns_what_rag_search_json_prints(client, env, monkeypatch):
    from rag.cli.main import app as cli

    monkeypatch.setenv("RAG_INDEX_DIR", str(env[2].index_dir))
    res = CliRunner().invoke(cli, ["search", Q_XINZHOU, "-k", "3", "--json"])
    assert res.exit_code == 0, res.output
    expected = json.loads(res.stdout)
    got = client.post("/v1/search", json={"question": Q_XINZHOU, "k": 3})
    assert got.status_code == 200
    assert got.json() == expected
    assert got.json()[0]["doc"].startswith("000_")
    assert len(client.post("/v1/search", json={"question": Q_XINZHOU}).json()) == 10  # the CLI's default k


# --- the native answer endpoint -----------------------------------------------------------------------------
def test_ask_returns_the_object_of_rag_ask_json(client):
    from rag.answer.turn import Answer

    r = client.post("/v1/ask", json={"question": Q_XINZHOU})
    assert r.status_code == 200, r.text
    data = r.json()
    assert set(data) == set(Answer("q", "a", False, [], [], {}).to_dict())
    assert not data["refused"] and "53" in data["answer"], data["answer"]
    assert data["model"] == "small" and data["question"] == data["standalone_question"] == Q_XINZHOU
    cited = [c for c in data["citations"] if "53" in c["quote"]]
    assert cited and cited[0]["doc"].startswith("000_")
    for key in ("retrieve_ms", "prompt_tokens", "first_token_s", "total_s"):
        assert key in data["timings"]


def test_ask_streams_evidence_tokens_citations_then_timings(client):
    body = {"question": "那太原呢？", "history": [Q_XINZHOU], "stream": True}
    with client.stream("POST", "/v1/ask", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse(r.read().decode("utf-8"))
    kinds = [k for k, _ in events]
    assert kinds[:2] == ["question", "evidence"] and kinds[-1] == "done", kinds
    first = dict(events)["question"]
    assert first["question"] == "那太原呢？" and "太原" in first["standalone_question"]
    assert "token" in kinds and kinds.index("token") < kinds.index("answer") < kinds.index("citations")
    assert "error" not in kinds
    done = dict(events)["done"]
    assert done["timings"]["total_s"] > 0
    assert "太原" in done["standalone_question"] and "高新技术企业" in done["standalone_question"]
    assert done["question"] == "那太原呢？"
    citations = dict(events)["citations"]
    assert isinstance(citations, list) and (citations or done["refused"])
    assert isinstance(dict(events)["evidence"]["quote"], str)


def test_question_about_an_unknown_city_is_refused_without_the_model(client):
    r = client.post("/v1/ask", json={"question": "大同今年要新建多少座5G基站？"})
    assert r.status_code == 200
    assert r.json()["refused"] and "first_token_s" not in r.json()["timings"]


# --- the OpenAI-compatible endpoint ------------------------------------------------------------------------------
def test_chat_completion_with_history_and_citations(client):
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": Q_XINZHOU},
        {"role": "assistant", "content": "忻州今年要新认定高新技术企业53家以上。[1]"},
        {"role": "user", "content": [{"type": "text", "text": "那代县呢？"}]},
    ]
    r = client.post(
        "/v1/chat/completions",
        json={
            "model": "gov-report-rag-small",
            "messages": messages,
            "temperature": 0.2,
            "max_tokens": 128,
            "user": "someone",
        },
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["object"] == "chat.completion" and data["model"] == "gov-report-rag-small"
    msg = data["choices"][0]["message"]
    assert msg["role"] == "assistant" and data["choices"][0]["finish_reason"] == "stop"
    assert "代县" in msg["standalone_question"] and "高新技术企业" in msg["standalone_question"]
    assert isinstance(msg["citations"], list) and isinstance(msg["content"], str) and msg["content"]
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]


def test_messages_after_the_last_user_message_are_ignored(client):
    """The question is the last user message: a trailing assistant message (a prefill) does not
    change the answer (JSON Schema cannot require the last item to be the user's, so it is accepted)."""
    plain = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": Q_XINZHOU}]})
    trailing = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": Q_XINZHOU}, {"role": "assistant", "content": "53"}]},
    )
    assert plain.status_code == trailing.status_code == 200, trailing.text
    a, b = plain.json()["choices"][0]["message"], trailing.json()["choices"][0]["message"]
    assert b["content"] == a["content"] and b["citations"] == a["citations"] and a["citations"]
    assert b["standalone_question"] == Q_XINZHOU


def test_chat_completion_stream_ends_with_a_chunk_that_carries_the_citations(client):
    body = {
        "model": "small",
        "messages": [{"role": "user", "content": Q_DAIXIAN}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        parts = chunks(r.read().decode("utf-8"))
    assert parts[-1] == "[DONE]"
    objs = [p for p in parts if isinstance(p, dict)]
    assert all(o["object"] == "chat.completion.chunk" and o["model"] == "gov-report-rag-small" for o in objs)
    assert objs[0]["choices"][0]["delta"]["role"] == "assistant"
    assert objs[-1]["choices"] == [] and objs[-1]["usage"]["completion_tokens"] > 0
    final = objs[-2]["choices"][0]
    assert final["finish_reason"] == "stop"
    assert final["delta"]["citations"] and "400" in final["delta"]["citations"][0]["quote"]
    content = "".join(o["choices"][0]["delta"].get("content") or "" for o in objs if o["choices"])
    assert "400" in content
    # the checked answer is either what was streamed, or follows a separator line
    answer = final["delta"]["answer"]
    assert content == answer or content.endswith("\n---\n" + answer)
    assert all(o["choices"][0]["finish_reason"] is None for o in objs[:-2])


def test_unknown_model_is_404_in_the_openai_error_shape(client):
    r = client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 404
    assert r.json() == {
        "error": {
            "message": r.json()["error"]["message"],
            "type": "not_found_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
    assert "gov-report-rag" in r.json()["error"]["message"]


# --- scope ------------------------------------------------------------------------------------------------------------
TAIYUAN = "002_6444904a722c13e8"  # 太原市's report: it says nothing of new high-tech enterprises
Q_ANY_PLACE = "今年要新认定多少家高新技术企业？"  # without a scope, 忻州市's report answers it


def test_a_scoped_search_returns_only_the_scoped_report(client):
    unscoped = client.post("/v1/search", json={"question": Q_ANY_PLACE, "k": 5}).json()
    assert TAIYUAN not in {h["doc"] for h in unscoped}
    for name in (TAIYUAN, f"{TAIYUAN}.txt"):  # by id, or by the file name /v1/documents lists
        r = client.post("/v1/search", json={"question": Q_ANY_PLACE, "k": 5, "scope": {"docs": [name]}})
        assert r.status_code == 200, r.text
        assert len(r.json()) == 5 and {h["doc"] for h in r.json()} == {TAIYUAN}
    r = client.post(
        "/v1/search",
        json={"question": Q_ANY_PLACE, "scope": {"places": ["代县", "太原"], "years": [2024], "levels": ["county"]}},
    )
    assert r.status_code == 200 and r.json() and {h["doc"] for h in r.json()} == {"004_d43a798d97625b5b"}
    empty = client.post("/v1/search", json={"question": Q_ANY_PLACE, "k": 5, "scope": {"docs": [], "places": []}})
    assert empty.json() == unscoped  # fields left empty do not limit


def test_a_scoped_answer_cites_only_the_scoped_report_streamed_or_not(client):
    body = {"question": Q_ANY_PLACE, "scope": {"places": ["太原市"]}}
    r = client.post("/v1/ask", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["citations"] and {c["doc"] for c in r.json()["citations"]} == {TAIYUAN}
    assert {x["doc"] for x in r.json()["retrieved"]} == {TAIYUAN}
    with client.stream("POST", "/v1/ask", json={**body, "stream": True}) as r:
        events = dict(sse(r.read().decode("utf-8")))
    assert events["evidence"]["doc"] == TAIYUAN and {c["doc"] for c in events["citations"]} == {TAIYUAN}
    unscoped = client.post("/v1/ask", json={"question": Q_ANY_PLACE}).json()
    assert unscoped["citations"][0]["doc"].startswith("000_")


def test_a_scoped_chat_completion_cites_only_the_scoped_report(client):
    messages = [{"role": "user", "content": Q_XINZHOU}, {"role": "user", "content": "那代县呢？"}]
    r = client.post("/v1/chat/completions", json={"messages": messages, "scope": {"docs": ["004_d43a798d97625b5b"]}})
    assert r.status_code == 200, r.text
    msg = r.json()["choices"][0]["message"]
    assert "代县" in msg["standalone_question"]
    assert msg["citations"] and {c["doc"] for c in msg["citations"]} == {"004_d43a798d97625b5b"}
    body = {"messages": [{"role": "user", "content": Q_ANY_PLACE}], "scope": {"docs": [TAIYUAN]}, "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        parts = [p for p in chunks(r.read().decode("utf-8")) if isinstance(p, dict)]
    final = parts[-1]["choices"][0]["delta"]
    assert final["citations"] and {c["doc"] for c in final["citations"]} == {TAIYUAN}


@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/ask", {"question": Q_ANY_PLACE}),
        ("/v1/ask", {"question": Q_ANY_PLACE, "stream": True}),
        ("/v1/search", {"question": Q_ANY_PLACE}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": Q_ANY_PLACE}]}),
    ],
    ids=["ask", "ask-stream", "search", "chat"],
)
@pytest.mark.parametrize(
    "scope, reason",
    [
        ({"docs": ["no-such-report"]}, "scope: no document 'no-such-report' in the library"),
        ({"places": ["大同"]}, "scope: no report of '大同' in the library"),
        ({"years": [2019]}, "scope: no report of 2019 in the library"),
        (
            {"places": ["代县"], "levels": ["prefecture"]},
            "scope: no report in the library is in places 代县; levels prefecture",
        ),
        ({"places": [" 代县"]}, "scope: ' 代县' is not a document id, file name or place as the library lists it"),
        ({"docs": [f"seeds/{TAIYUAN}.txt"]}, f"scope: 'seeds/{TAIYUAN}.txt' is not a document id, file name or place"),
    ],
    ids=["doc", "place", "year", "no-report", "padded-place", "path"],
)
def test_a_scope_the_library_does_not_hold_is_422_with_the_reason_before_queueing(
    client, services, hold_worker, path, body, scope, reason
):
    with hold_worker(services.queue, queued=1):  # the queue is full: a question that got in line would be a 503
        r = client.post(path, json={**body, "scope": scope})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["message"].startswith(reason) and error["param"] == "scope" and error["code"] == "unknown_scope"
    assert services.queue.admitted == 0


def test_the_openapi_document_lists_what_a_scope_may_name_and_follows_uploads(client):
    def listed() -> tuple[list, list]:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["ScopeRequest"]
        return schema["properties"]["docs"]["items"]["enum"], schema["anyOf"]

    docs, branches = listed()
    assert TAIYUAN in docs and f"{TAIYUAN}.txt" in docs and len(branches) == 5
    r = client.post("/v1/documents", json={"name": "阳泉.txt", "text": REPORT})
    assert r.status_code == 201, r.text
    doc_id = r.json()["document"]["id"]
    try:
        docs, branches = listed()
        assert doc_id in docs and "阳泉.txt" not in docs  # a display name is not a file name of the library
        assert doc_id in [b["title"] for b in branches]
        hits = client.post("/v1/search", json={"question": Q_UPLOAD, "k": 3, "scope": {"places": ["阳泉"]}}).json()
        assert hits and {h["doc"] for h in hits} == {doc_id}
    finally:
        assert client.delete(f"/v1/documents/{doc_id}").status_code == 200
    assert doc_id not in listed()[0]
    r = client.post("/v1/search", json={"question": Q_UPLOAD, "scope": {"docs": [doc_id]}})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_scope"


# --- the answer queue ------------------------------------------------------------------------------------------------
def test_full_queue_is_503_with_retry_after_while_search_and_listing_stay_available(client, services, hold_worker):
    """Hold the worker deterministically: one job blocks on an event, one more fills the queue."""
    with hold_worker(services.queue, queued=1) as held:
        r = client.post("/v1/ask", json={"question": Q_XINZHOU})
        assert r.status_code == 503 and r.headers["retry-after"] == "3"
        assert r.json()["error"]["code"] == "queue_full"
        r = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": Q_XINZHOU}], "stream": True}
        )
        assert r.status_code == 503 and r.headers["retry-after"] == "3"
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
        assert client.post("/v1/search", json={"question": Q_XINZHOU, "k": 3}).status_code == 200
        assert client.get("/v1/documents").status_code == 200
        assert not held.done(), "search waited for the answer worker"
        assert client.get("/readyz").json()["queue"]["rejected"] >= 2
    assert services.queue.admitted == 0


def test_a_question_that_cannot_start_in_time_is_503_not_a_hanging_request(client, services, monkeypatch, hold_worker):
    monkeypatch.setattr(services.queue, "max_wait_s", 0.5)
    with hold_worker(services.queue) as held:
        for path, body in [
            ("/v1/ask", {"question": Q_XINZHOU}),
            ("/v1/ask", {"question": Q_XINZHOU, "stream": True}),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": Q_XINZHOU}], "stream": True}),
        ]:
            r = client.post(path, json=body)
            assert r.status_code == 503 and r.headers["retry-after"] == "3", r.text
            assert r.json()["error"]["code"] == "queue_timeout"
            assert not held.done(), "the question waited for the worker instead of its own limit"
    deadline = time.monotonic() + 60
    while services.queue.admitted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert services.queue.admitted == 0
    assert services.queue.stats["timed_out"] >= 3


# --- documents ------------------------------------------------------------------------------------------------------
def test_upload_is_answerable_and_delete_removes_it(client, services):
    docs = client.get("/v1/documents").json()
    assert len(docs) == 5 and {d["source"] for d in docs} == {"seed"}
    assert all("path" not in d for d in docs)

    r = client.post(
        "/v1/documents?name=../../etc/阳泉.txt",
        content=REPORT.encode("utf-8"),
        headers={"content-type": "text/plain; charset=utf-8"},
    )
    assert r.status_code == 201, r.text
    info = r.json()
    doc_id = info["document"]["id"]
    assert doc_id.startswith("upload-") and info["document"]["place"] == "阳泉市"
    assert info["embedded"] <= info["document"]["chunks"] and info["reused"] > 200  # only new chunks embedded
    stored = list((services.settings.index_dir / "uploads").glob("*.txt"))
    assert [p.stem for p in stored] == [doc_id]  # named by the server, not by the client

    listed = {d["id"]: d for d in client.get("/v1/documents").json()}
    assert listed[doc_id]["source"] == "upload" and listed[doc_id]["name"] == "阳泉.txt"
    hits = client.post("/v1/search", json={"question": Q_UPLOAD, "k": 3}).json()
    assert hits[0]["doc"] == doc_id and "37个" in hits[0]["text"]
    ans = client.post("/v1/ask", json={"question": Q_UPLOAD}).json()
    assert not ans["refused"] and "37" in ans["answer"], ans
    assert ans["citations"][0]["doc"] == doc_id

    again = client.post("/v1/documents", json={"name": "copy.txt", "text": REPORT})
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_document"

    r = client.delete(f"/v1/documents/{doc_id}")
    assert r.status_code == 200 and r.json()["documents"] == 5
    assert doc_id not in {d["id"] for d in client.get("/v1/documents").json()}
    hits = client.post("/v1/search", json={"question": Q_UPLOAD, "k": 10}).json()
    assert all(h["doc"] != doc_id for h in hits)
    assert client.delete(f"/v1/documents/{doc_id}").status_code == 404
    assert not list((services.settings.index_dir / "uploads").glob("upload-*"))


def _docx(text: str) -> bytes:
    """A Word file of `text`, one paragraph per line, as python-docx writes it."""
    import io

    from docx import Document

    d = Document()
    for line in text.splitlines():
        if line.strip():
            d.add_paragraph(line.strip())
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_a_word_upload_as_a_multipart_form_is_answerable_and_served_back(client, services):
    data = _docx(REPORT)
    r = client.post("/v1/documents", files={"file": ("阳泉.docx", data, "application/octet-stream")})
    assert r.status_code == 201, r.text
    doc = r.json()["document"]
    assert doc["format"] == "docx" and doc["place"] == "阳泉市"
    listed = {d["id"]: d for d in client.get("/v1/documents").json()}
    assert listed[doc["id"]]["name"] == "阳泉.docx" and listed[doc["id"]]["format"] == "docx"
    stored = list((services.settings.index_dir / "uploads").glob(f"{doc['id']}.*"))
    assert [p.suffix for p in stored] == [".docx"]
    ans = client.post("/v1/ask", json={"question": Q_UPLOAD}).json()
    assert not ans["refused"] and "37" in ans["answer"], ans
    cit = ans["citations"][0]
    assert cit["doc"] == doc["id"] and cit["page"] is None and cit["location"] == f"¶{cit['paragraph']}"
    f = client.get(f"/v1/documents/{doc['id']}/file")
    assert f.status_code == 200 and f.content == data
    assert f.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    assert f.headers["content-disposition"].startswith("inline")
    assert client.get("/v1/documents/no-such-doc/file").status_code == 404
    assert client.delete(f"/v1/documents/{doc['id']}").status_code == 200
    assert client.get(f"/v1/documents/{doc['id']}/file").status_code == 404


def test_a_pdf_upload_is_answered_with_the_page_in_the_citation(client, services):
    """The made-up two-page report of tests/data/pdf/upload_report.pdf has the asked figure on page 2."""
    data = (PDF_DATA / "upload_report.pdf").read_bytes()
    r = client.post("/v1/documents?name=青禾.pdf", content=data, headers={"content-type": "application/pdf"})
    assert r.status_code == 201, r.text
    doc = r.json()["document"]
    assert doc["format"] == "pdf" and doc["place"] == "青禾市" and doc["year"] == 2025
    ans = client.post("/v1/ask", json={"question": "青禾市今年要新建多少个口袋公园？"}).json()
    assert not ans["refused"] and "64" in ans["answer"], ans
    cit = ans["citations"][0]
    assert cit["doc"] == doc["id"] and cit["page"] == 2, cit
    assert cit["location"] == f"第2页 ¶{cit['paragraph']}"
    f = client.get(f"/v1/documents/{doc['id']}/file")
    assert f.status_code == 200 and f.content == data and f.headers["content-type"] == "application/pdf"
    assert client.delete(f"/v1/documents/{doc['id']}").status_code == 200


def test_files_that_are_not_reports_are_refused_with_a_reason(client, services):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data.xml", "<x/>")
    cases = [
        (buf.getvalue(), "甲市.docx", "not a Word document"),  # a renamed ZIP
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "甲市.docx", "password-protected"),
        (_docx(REPORT)[:1500], "甲市.docx", "damaged"),  # truncated in transit
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "甲市.png", "PNG"),
        (PDF_DATA.joinpath("encrypted.pdf").read_bytes(), "甲市.pdf", "encrypted"),
        (PDF_DATA.joinpath("scanned.pdf").read_bytes(), "甲市.pdf", "no text layer"),
        (PDF_DATA.joinpath("upload_report.pdf").read_bytes()[:9000], "甲市.pdf", "truncated"),
    ]
    before = (
        sorted(p.name for p in (services.settings.index_dir / "uploads").glob("*"))
        if (services.settings.index_dir / "uploads").exists()
        else []
    )
    for data, name, reason in cases:
        r = client.post("/v1/documents", files={"file": (name, data, "application/octet-stream")})
        assert r.status_code == 422 and reason in r.json()["error"]["message"], (name, r.text)
        r = client.post(
            f"/v1/documents?name={name}", content=data, headers={"content-type": "application/octet-stream"}
        )
        assert r.status_code == 422 and reason in r.json()["error"]["message"], (name, r.text)
    after = (
        sorted(p.name for p in (services.settings.index_dir / "uploads").glob("*"))
        if (services.settings.index_dir / "uploads").exists()
        else []
    )
    assert after == before  # nothing half-stored
    r = client.post("/v1/documents", files={"report": ("甲市.txt", REPORT.encode(), "text/plain")})
    assert r.status_code == 422 and r.json()["error"]["param"] == "file"
    r = client.post(
        "/v1/documents", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert r.status_code in (400, 422), r.text
    assert len(client.get("/v1/documents").json()) == 5


def test_an_answer_during_an_upload_sees_the_old_index_until_the_new_one_is_complete(client, services, monkeypatch):
    """Pause the upload between writing the chunk store and publishing the index, answer a question in
    that window, then let the upload finish."""
    import rag.search.index

    real_build = rag.search.index.build
    building, go = threading.Event(), threading.Event()

    def paused_build(*args, **kwargs):
        building.set()
        assert go.wait(120)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(rag.search.index, "build", paused_build)
    result: dict = {}
    text = REPORT.replace("37个", "41个").replace("阳泉", "晋城")

    def upload():
        result["r"] = client.post("/v1/documents", json={"name": "晋城.txt", "text": text})

    uploader = threading.Thread(target=upload)
    uploader.start()
    try:
        assert building.wait(60), "the upload did not reach the index build"
        # the new chunk store is on disk; what is served must still be the old, complete index
        with client.stream("POST", "/v1/ask", json={"question": Q_DAIXIAN, "stream": True}) as r:
            events = sse(r.read().decode("utf-8"))
        kinds = [k for k, _ in events]
        assert kinds[-1] == "done" and "error" not in kinds, events
        assert "400" in dict(events)["answer"]
        assert all(c["doc"].startswith("004_") for c in dict(events)["citations"])
        assert len(client.get("/v1/documents").json()) == 5
        hits = client.post("/v1/search", json={"question": "晋城今年要新建多少个智慧农业示范园区？", "k": 5}).json()
        assert all(not h["doc"].startswith("upload-") for h in hits)
    finally:
        go.set()
        uploader.join(120)
    assert result["r"].status_code == 201, result["r"].text
    new_id = result["r"].json()["document"]["id"]
    hits = client.post("/v1/search", json={"question": "晋城今年要新建多少个智慧农业示范园区？", "k": 3}).json()
    assert hits[0]["doc"] == new_id
    assert client.delete(f"/v1/documents/{new_id}").status_code == 200


def test_a_failed_upload_leaves_the_served_index_and_the_files_as_they_were(client, services, monkeypatch):
    import rag.search.index

    def broken_build(*args, **kwargs):
        raise OSError("disk full")

    before = client.post("/v1/search", json={"question": Q_DAIXIAN, "k": 3}).json()
    monkeypatch.setattr(rag.search.index, "build", broken_build)
    r = client.post(
        "/v1/documents", content=REPORT.replace("阳泉", "长治").encode(), headers={"content-type": "text/plain"}
    )
    assert r.status_code == 500 and "Traceback" not in r.text and r.json()["error"]["type"] == "server_error"
    monkeypatch.undo()
    assert not list((services.settings.index_dir / "uploads").glob("upload-*"))
    assert client.post("/v1/search", json={"question": Q_DAIXIAN, "k": 3}).json() == before
    assert len(client.get("/v1/documents").json()) == 5


# --- bad input never produces a 500 ---------------------------------------------------------------------------------
LONG = "忻" * 501
JSON = {"content-type": "application/json"}
BAD_INPUT = [
    # (id, method, path, request kwargs, status, error code or None)
    ("ask-malformed-json", "POST", "/v1/ask", {"content": b'{"question": ', "headers": JSON}, 400, "invalid_json"),
    (
        "ask-not-utf8-json",
        "POST",
        "/v1/ask",
        {"content": b'{"question": "\xff\xfe"}', "headers": JSON},
        400,
        "invalid_json",
    ),
    ("ask-no-body", "POST", "/v1/ask", {}, 422, "missing"),
    ("ask-array-body", "POST", "/v1/ask", {"json": ["question"]}, 422, "model_attributes_type"),
    ("ask-missing-question", "POST", "/v1/ask", {"json": {"k": 3}}, 422, "missing"),
    ("ask-question-int", "POST", "/v1/ask", {"json": {"question": 5}}, 422, "string_type"),
    ("ask-empty", "POST", "/v1/ask", {"json": {"question": ""}}, 400, "empty_question"),
    ("ask-blank", "POST", "/v1/ask", {"json": {"question": "  \n "}}, 400, "empty_question"),
    ("ask-too-long", "POST", "/v1/ask", {"json": {"question": LONG}}, 400, "question_too_long"),
    ("ask-k-zero", "POST", "/v1/ask", {"json": {"question": Q_XINZHOU, "k": 0}}, 422, "greater_than_equal"),
    ("ask-k-string", "POST", "/v1/ask", {"json": {"question": Q_XINZHOU, "k": "5"}}, 422, "int_type"),
    ("ask-k-huge", "POST", "/v1/ask", {"json": {"question": Q_XINZHOU, "k": 10**6}}, 422, "less_than_equal"),
    ("ask-history-string", "POST", "/v1/ask", {"json": {"question": Q_XINZHOU, "history": "x"}}, 422, "list_type"),
    ("ask-stream-string", "POST", "/v1/ask", {"json": {"question": Q_XINZHOU, "stream": "yes"}}, 422, "bool_type"),
    ("ask-unknown-field", "POST", "/v1/ask", {"json": {"question": Q_XINZHOU, "q": 1}}, 422, "extra_forbidden"),
    (
        "ask-unknown-model",
        "POST",
        "/v1/ask",
        {"json": {"question": Q_XINZHOU, "model": "huge"}},
        404,
        "model_not_found",
    ),
    ("ask-body-too-large", "POST", "/v1/ask", {"json": {"question": "x" * 20000}}, 413, "body_too_large"),
    ("ask-wrong-method", "GET", "/v1/ask", {}, 405, None),
    (
        "chat-malformed-json",
        "POST",
        "/v1/chat/completions",
        {"content": b"{'messages': []}", "headers": JSON},
        400,
        "invalid_json",
    ),
    ("chat-no-messages", "POST", "/v1/chat/completions", {"json": {"model": "small"}}, 422, "missing"),
    ("chat-empty-messages", "POST", "/v1/chat/completions", {"json": {"messages": []}}, 422, "too_short"),
    ("chat-messages-string", "POST", "/v1/chat/completions", {"json": {"messages": "hi"}}, 422, "list_type"),
    (
        "chat-bad-role",
        "POST",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "boss", "content": "x"}]}},
        422,
        "literal_error",
    ),
    (
        "chat-empty-content",
        "POST",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "user", "content": ""}]}},
        400,
        "empty_question",
    ),
    (
        "chat-no-text-part",
        "POST",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}},
        400,
        "empty_question",
    ),
    (
        "chat-too-long",
        "POST",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "user", "content": LONG}]}},
        400,
        "question_too_long",
    ),
    (
        "chat-unknown-model",
        "POST",
        "/v1/chat/completions",
        {"json": {"model": "gpt-4", "messages": [{"role": "user", "content": Q_XINZHOU}]}},
        404,
        "model_not_found",
    ),
    (
        "chat-max-tokens-zero",
        "POST",
        "/v1/chat/completions",
        {"json": {"max_tokens": 0, "messages": [{"role": "user", "content": Q_XINZHOU}]}},
        422,
        "greater_than_equal",
    ),
    (
        "chat-temperature-high",
        "POST",
        "/v1/chat/completions",
        {"json": {"temperature": 3, "messages": [{"role": "user", "content": Q_XINZHOU}]}},
        422,
        "less_than_equal",
    ),
    (
        "chat-n-two",
        "POST",
        "/v1/chat/completions",
        {"json": {"n": 2, "messages": [{"role": "user", "content": Q_XINZHOU}]}},
        422,
        "less_than_equal",
    ),
    (
        "chat-stream-string",
        "POST",
        "/v1/chat/completions",
        {"json": {"stream": "true", "messages": [{"role": "user", "content": Q_XINZHOU}]}},
        422,
        "bool_type",
    ),
    (
        "chat-too-many-messages",
        "POST",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "user", "content": "x"}] * 65}},
        400,
        "too_many_messages",
    ),
    ("search-malformed-json", "POST", "/v1/search", {"content": b"question=x", "headers": JSON}, 400, "invalid_json"),
    ("search-missing-question", "POST", "/v1/search", {"json": {}}, 422, "missing"),
    ("search-question-list", "POST", "/v1/search", {"json": {"question": ["x"]}}, 422, "string_type"),
    ("search-empty", "POST", "/v1/search", {"json": {"question": ""}}, 400, "empty_question"),
    ("search-too-long", "POST", "/v1/search", {"json": {"question": LONG}}, 400, "question_too_long"),
    ("search-k-zero", "POST", "/v1/search", {"json": {"question": Q_XINZHOU, "k": 0}}, 422, "greater_than_equal"),
    ("search-k-float", "POST", "/v1/search", {"json": {"question": Q_XINZHOU, "k": 2.5}}, 422, "int_type"),
    ("models-wrong-method", "POST", "/v1/models", {"json": {}}, 405, None),
    (
        "upload-binary",
        "POST",
        "/v1/documents",
        {
            "content": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20,
            "headers": {"content-type": "application/octet-stream"},
        },
        422,
        "invalid_report",
    ),
    (
        "upload-not-utf8",
        "POST",
        "/v1/documents",
        {"content": "忻州市政府工作报告。".encode("gbk") * 10, "headers": {"content-type": "text/plain"}},
        422,
        "invalid_report",
    ),
    (
        "upload-empty",
        "POST",
        "/v1/documents",
        {"content": b"  \n", "headers": {"content-type": "text/plain"}},
        422,
        "invalid_report",
    ),
    (
        "upload-no-text",
        "POST",
        "/v1/documents",
        {"content": b"1234 5678\n" * 5, "headers": {"content-type": "text/plain"}},
        422,
        "invalid_report",
    ),
    (
        "upload-too-large",
        "POST",
        "/v1/documents",
        {"content": "报告".encode() * 40000, "headers": {"content-type": "text/plain"}},
        413,
        "body_too_large",
    ),
    (
        "upload-image-type",
        "POST",
        "/v1/documents",
        {"content": b"GIF89a", "headers": {"content-type": "image/gif"}},
        415,
        "unsupported_media_type",
    ),
    ("upload-json-malformed", "POST", "/v1/documents", {"content": b'{"text": ', "headers": JSON}, 400, "invalid_json"),
    ("upload-json-no-text", "POST", "/v1/documents", {"json": {"name": "x.txt"}}, 422, "missing"),
    ("upload-json-text-int", "POST", "/v1/documents", {"json": {"text": 5}}, 422, "string_type"),
    (
        "upload-name-too-long",
        "POST",
        "/v1/documents?name=" + "n" * 300,
        {"content": REPORT.encode(), "headers": {"content-type": "text/plain"}},
        422,
        "string_too_long",
    ),
    ("delete-unknown-id", "DELETE", "/v1/documents/no-such-report", {}, 404, "document_not_found"),
    ("delete-bad-id", "DELETE", "/v1/documents/..%5C..%5Cetc", {}, 422, "string_pattern_mismatch"),
    ("delete-traversal", "DELETE", "/v1/documents/../../seeds", {}, 404, None),
    ("documents-wrong-method", "PUT", "/v1/documents", {"json": {}}, 405, None),
    ("unknown-route", "GET", "/v2/everything", {}, 404, None),
    # what the OpenAPI document says, the server holds to (tests/test_api_schema.py runs the contract)
    (
        "chat-two-text-parts",
        "POST",
        "/v1/chat/completions",
        {
            "json": {
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "甲市"}, {"type": "text", "text": "？"}]}
                ]
            }
        },
        400,
        "unsupported_content",
    ),
    (
        "chat-blank-history",
        "POST",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "user", "content": " "}, {"role": "user", "content": Q_XINZHOU}]}},
        400,
        "empty_question",
    ),
    (
        "chat-temperature-string",
        "POST",
        "/v1/chat/completions",
        {"json": {"temperature": "0.5", "messages": [{"role": "user", "content": Q_XINZHOU}]}},
        422,
        "float_type",
    ),
    (
        "ask-model-padded",
        "POST",
        "/v1/ask",
        {"json": {"question": Q_XINZHOU, "model": " small "}},
        404,
        "model_not_found",
    ),
    ("ask-model-empty", "POST", "/v1/ask", {"json": {"question": Q_XINZHOU, "model": ""}}, 404, "model_not_found"),
    (
        "search-k-whole-float-too-big",
        "POST",
        "/v1/search",
        {"json": {"question": Q_XINZHOU, "k": 51.0}},
        422,
        "less_than_equal",
    ),
    ("search-k-bool", "POST", "/v1/search", {"json": {"question": Q_XINZHOU, "k": True}}, 422, "int_type"),
    (
        "search-scope-string",
        "POST",
        "/v1/search",
        {"json": {"question": Q_XINZHOU, "scope": "代县"}},
        422,
        "model_attributes_type",
    ),
    (
        "search-scope-docs-string",
        "POST",
        "/v1/search",
        {"json": {"question": Q_XINZHOU, "scope": {"docs": "000"}}},
        422,
        "list_type",
    ),
    (
        "ask-scope-year-string",
        "POST",
        "/v1/ask",
        {"json": {"question": Q_XINZHOU, "scope": {"years": ["2024"]}}},
        422,
        "int_type",
    ),
    (
        "ask-scope-unknown-level",
        "POST",
        "/v1/ask",
        {"json": {"question": Q_XINZHOU, "scope": {"levels": ["city"]}}},
        422,
        "literal_error",
    ),
    (
        "ask-scope-unknown-field",
        "POST",
        "/v1/ask",
        {"json": {"question": Q_XINZHOU, "scope": {"doc": ["000"]}}},
        422,
        "extra_forbidden",
    ),
    (
        "ask-scope-comma-separated",
        "POST",
        "/v1/ask",
        {"json": {"question": Q_XINZHOU, "scope": {"places": ["代县,太原"]}}},
        422,
        "unknown_scope",
    ),
    (
        "chat-scope-too-many-levels",
        "POST",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "user", "content": Q_XINZHOU}], "scope": {"levels": ["county"] * 6}}},
        422,
        "too_long",
    ),
    (
        "search-padded-too-long",
        "POST",
        "/v1/search",
        {"json": {"question": " " * 300 + "忻" * 201}},
        400,
        "question_too_long",
    ),
    (
        "upload-form-extra-field",
        "POST",
        "/v1/documents",
        {"files": {"file": ("甲市.txt", REPORT.encode(), "text/plain")}, "data": {"note": "x"}},
        422,
        "unexpected_field",
    ),
    (
        "upload-deep-json",
        "POST",
        "/v1/documents",
        {"content": b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b"}", "headers": JSON},
        400,
        "invalid_json",
    ),
    ("ask-deep-json", "POST", "/v1/ask", {"content": b"[" * 7000 + b"]" * 7000, "headers": JSON}, 400, "invalid_json"),
    ("text-dot-dot-id", "GET", "/v1/documents/%2e%2e/text", {}, 422, "string_pattern_mismatch"),
    ("file-nul-id", "GET", "/v1/documents/%00/file", {}, 422, "string_pattern_mismatch"),
]


@pytest.mark.parametrize(
    "method, path, kwargs, status, code", [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input_is_a_clear_4xx_never_a_500(client, services, method, path, kwargs, status, code):
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"] and "Traceback" not in r.text
    if code is not None:
        assert body["error"]["code"] == code, body
    assert len(client.get("/v1/documents").json()) >= 5  # nothing was half-added
    assert services.queue.admitted == 0


def test_a_chunked_body_over_the_limit_is_413_and_is_not_ingested(client, services):
    def gen():
        for _ in range(100):
            yield ("今年全市新建公园1000个。\n" * 40).encode()

    r = client.post("/v1/documents", content=gen(), headers={"content-type": "text/plain"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
    assert not list((services.settings.index_dir / "uploads").glob("upload-*"))


# --- documentation --------------------------------------------------------------------------------------------------
def test_openapi_describes_every_endpoint_and_every_request_field(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/v1/ask", "post"),
        ("/v1/chat/completions", "post"),
        ("/v1/search", "post"),
        ("/v1/models", "get"),
        ("/v1/documents", "get"),
        ("/v1/documents", "post"),
        ("/v1/documents/{doc_id}", "delete"),
        ("/v1/documents/{doc_id}/file", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ]:
        assert method in paths[path], path
    schemas = spec["components"]["schemas"]
    for name in (
        "AskRequest",
        "ChatCompletionRequest",
        "SearchRequest",
        "ChatMessage",
        "AskResponse",
        "Citation",
        "SearchResult",
        "DocumentInfo",
        "ModelCard",
        "ErrorDetail",
        "ScopeRequest",
    ):
        for field, prop in schemas[name]["properties"].items():
            if field in ("object", "role", "index", "owned_by"):
                continue
            assert prop.get("description"), f"{name}.{field} has no description"
    page = client.get("/docs")
    assert "text/html" in page.headers["content-type"] and "<script" not in page.text  # works offline
    for text in ("/v1/chat/completions", "history", "citations", "Retry-After", "AskRequest", "unknown_scope"):
        assert text in page.text, text


# --- security --------------------------------------------------------------------------------------------------------
def test_api_key_is_required_everywhere_but_health_and_compared_in_constant_time(env, monkeypatch):
    import api.security

    calls = []
    real = api.security.hmac.compare_digest
    monkeypatch.setattr(api.security.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    app = create_app(env[2], ApiSettings(api_key="s3cret-key"))
    c = TestClient(app)  # no lifespan: the key is checked before any service is needed
    assert c.get("/healthz").status_code == 200
    assert c.get("/readyz").status_code == 503  # not started, but not 401
    for method, path in [
        ("GET", "/v1/models"),
        ("POST", "/v1/search"),
        ("POST", "/v1/ask"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/documents"),
        ("POST", "/v1/documents"),
        ("DELETE", "/v1/documents/x"),
        ("GET", "/v1/documents/x/file"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
    ]:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Basic czNjcmV0LWtleQ=="},
            {"Authorization": "Bearer s3cret-key-and-more"},
        ):
            r = c.request(method, path, headers=headers, json={})
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.json()["error"]["type"] == "authentication_error"
            assert r.headers["www-authenticate"] == "Bearer"
    assert calls, "the key must be compared with hmac.compare_digest"
    ok = {"Authorization": "Bearer s3cret-key"}
    assert c.get("/openapi.json", headers=ok).status_code == 200
    assert c.get("/v1/models", headers=ok).status_code == 503  # past the key check; the service is not started


def test_cors_is_off_unless_configured(env, client):
    preflight = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
    r = client.options("/v1/search", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    c = TestClient(create_app(env[2], ApiSettings(cors_origins=["http://localhost:3000"])))
    r = c.options("/v1/search", headers=preflight)
    assert r.headers["access-control-allow-origin"] == "http://localhost:3000"
    r = c.options("/v1/search", headers={**preflight, "Origin": "http://evil.example"})
    assert r.headers.get("access-control-allow-origin") != "http://evil.example"


def test_binds_to_loopback_by_default(monkeypatch):
    for k in ("RAG_API_HOST", "RAG_API_PORT"):
        monkeypatch.delenv(k, raising=False)
    s = ApiSettings(_env_file=None)
    assert s.host == "127.0.0.1" and s.api_key is None and s.cors_origins == []


# --- removing a seed report (last: it changes the module's corpus) ------------------------------------------------------
def test_removing_a_seed_excludes_it_and_keeps_its_file(client, services):
    seed = next(d["id"] for d in client.get("/v1/documents").json() if d["id"].startswith("004_"))
    r = client.delete(f"/v1/documents/{seed}")
    assert r.status_code == 200 and r.json()["documents"] == 4
    assert (services.settings.seeds_dir / f"{seed}.txt").exists()
    assert seed in json.loads((services.settings.index_dir / "excluded.json").read_text())
    hits = client.post("/v1/search", json={"question": Q_DAIXIAN, "k": 10}).json()
    assert all(h["doc"] != seed for h in hits)
    assert client.delete(f"/v1/documents/{seed}").status_code == 404
