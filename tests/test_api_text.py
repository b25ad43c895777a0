"""`GET /v1/documents/{id}/text`: the text a document's citation offsets index, with its chunks and twins,
for the web page's report view. The mock LLM answers (no weights needed): this is about offsets, not
answers."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from rag.read.formats import read_source
from rag.settings import LLMSettings

PDF_DATA = Path(__file__).parent / "data" / "pdf"
XINZHOU = "000_e75e043d3f4bed66"
SHUOZHOU_TRAD = "001_cdd563ffef68d5a8"  # Traditional script, twin of 003
SHUOZHOU_SIMP = "003_4ca470a0a2d501aa"  # narrow newspaper columns
REPORT = """晋中市2024年政府工作报告

一、2024年工作安排

今年全市新建口袋公园23个，改造背街小巷41条。
"""


def _compact(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _wait_ready(client: TestClient, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get("/readyz")
        if r.status_code == 200:
            return
        assert not r.json().get("error"), r.json()
        time.sleep(0.1)
    raise AssertionError("the service did not become ready")


@pytest.fixture(scope="module")
def env(seed_index, tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("text") / "index"
    shutil.copytree(seed_index.index_dir, index_dir)
    settings = seed_index.model_copy(
        update={"index_dir": index_dir, "llm": LLMSettings(backend="mock", choice="small")}
    )
    app = create_app(settings, ApiSettings(api_key="text-key", max_upload_bytes=512 * 1024))
    with TestClient(app, raise_server_exceptions=False, headers={"Authorization": "Bearer text-key"}) as client:
        _wait_ready(client)
        yield client, settings


@pytest.fixture
def client(env) -> TestClient:
    return env[0]


def test_the_text_is_the_file_as_read_with_every_chunk(client, env):
    r = client.get(f"/v1/documents/{XINZHOU}/text")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == XINZHOU and body["place"] == "忻州市" and body["year"] == 2024
    assert body["format"] == "text" and body["script"] == "simplified" and body["twin_of"] == []
    assert body["text"] == read_source(env[1].seeds_dir / f"{XINZHOU}.txt")[0].text
    paragraphs = body["paragraphs"]
    listed = {d["id"]: d for d in client.get("/v1/documents").json()}
    assert len(paragraphs) == listed[XINZHOU]["chunks"]
    text = body["text"]
    for p in paragraphs:
        assert 0 <= p["start"] <= p["end"] <= len(text)
        assert p["id"].startswith(XINZHOU + "/") and p["breadcrumb"].startswith("忻州市")
        assert all(p["start"] <= a <= b <= p["end"] for a, b in p["spans"])
    body_paras = [p for p in paragraphs if p["kind"] == "body"]
    assert body_paras and all(p["page"] is None for p in paragraphs)


def test_a_citation_s_offsets_index_the_text(client):
    """The quote of a streamed evidence event and of every citation sits at its offsets (line breaks of
    a narrow newspaper column fall inside the span), inside the paragraph it cites."""
    for question in ("忻州今年要新认定多少家高新技术企业？", "朔州今年地区生产总值增长目标是多少？"):
        answer = client.post("/v1/ask", json={"question": question}).json()
        assert answer["citations"], answer
        for c in answer["citations"]:
            doc = client.get(f"/v1/documents/{c['doc']}/text").json()
            assert _compact(doc["text"][c["start"] : c["end"]]) == _compact(c["quote"])
            para = next(p for p in doc["paragraphs"] if p["id"] == c["id"])
            assert para["start"] <= c["start"] < c["end"] <= para["end"]


def test_twin_reports_point_at_each_other_paragraph_by_paragraph(client):
    trad = client.get(f"/v1/documents/{SHUOZHOU_TRAD}/text").json()
    simp = client.get(f"/v1/documents/{SHUOZHOU_SIMP}/text").json()
    assert trad["twin_of"] == [SHUOZHOU_SIMP] and simp["twin_of"] == [SHUOZHOU_TRAD]
    assert trad["script"] == "traditional" and "報告" in trad["text"]
    simp_ids = {p["id"] for p in simp["paragraphs"]}
    linked = [p for p in trad["paragraphs"] if p["twins"]]
    assert len(linked) >= 20
    assert all(t in simp_ids for p in linked for t in p["twins"])


def test_an_upload_reads_back_and_a_changed_file_is_a_conflict(client, env):
    r = client.post("/v1/documents", json={"name": "晋中<b>.txt", "text": REPORT})
    assert r.status_code == 201, r.text
    doc_id = r.json()["document"]["id"]
    body = client.get(f"/v1/documents/{doc_id}/text").json()
    assert body["text"] == REPORT and body["name"] == "晋中<b>.txt"
    quote = "今年全市新建口袋公园23个"
    assert any(REPORT[p["start"] : p["end"]].startswith(quote) and p["kind"] == "body" for p in body["paragraphs"])
    path = env[1].index_dir / "uploads" / f"{doc_id}.txt"
    path.write_text(REPORT.replace("23", "32"), encoding="utf-8")
    r = client.get(f"/v1/documents/{doc_id}/text")
    assert r.status_code == 409 and r.json()["error"]["code"] == "document_changed"
    path.write_text(REPORT, encoding="utf-8")
    assert client.delete(f"/v1/documents/{doc_id}").status_code == 200
    assert client.get(f"/v1/documents/{doc_id}/text").status_code == 404


def test_a_pdf_is_served_as_the_text_read_from_it_with_pages(client):
    data = (PDF_DATA / "upload_report.pdf").read_bytes()
    r = client.post("/v1/documents?name=甲市.pdf", content=data, headers={"Content-Type": "application/pdf"})
    assert r.status_code == 201, r.text
    doc_id = r.json()["document"]["id"]
    try:
        body = client.get(f"/v1/documents/{doc_id}/text").json()
        assert body["format"] == "pdf" and "%PDF" not in body["text"]
        pages = {p["page"] for p in body["paragraphs"]}
        assert {1, 2} <= pages
        assert all(_compact(body["text"][p["start"] : p["end"]]) for p in body["paragraphs"])
    finally:
        client.delete(f"/v1/documents/{doc_id}")


def test_unknown_ids_bad_ids_and_no_key(client, env):
    r = client.get("/v1/documents/999_missing/text")
    assert r.status_code == 404 and r.json()["error"]["code"] == "document_not_found"
    assert client.get("/v1/documents/..%2Fsecret/text").status_code in (404, 422)
    assert client.get("/v1/documents/a b/text").status_code == 422
    anonymous = TestClient(client.app)  # no lifespan of its own: the running services answer
    r = anonymous.get(f"/v1/documents/{XINZHOU}/text")
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
