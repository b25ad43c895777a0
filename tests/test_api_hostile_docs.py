"""Hostile documents uploaded through `POST /v1/documents` (the mock answer backend, a private
copy of the seed index): each is indexed or refused with a 4xx and a one-line reason, never a 5xx
or a traceback, and with bounded work: an upload embeds its own chunks, each once, and a refused one
embeds nothing. The readers' own tests say why each outcome is right, and bound the work of reading
and cutting; eval/bench_ingest.py --hostile times each document."""

from __future__ import annotations

import shutil
import time

import hostile_docs as h
import pytest
from fastapi.testclient import TestClient
from work_bounds import HANG_S

from api.main import create_app
from api.settings import ApiSettings
from rag.settings import LLMSettings


class CountingEmbedder:
    """The service's embedder, counting the passages it is given."""

    def __init__(self, inner):
        self.inner, self.model_id, self.dim = inner, inner.model_id, inner.dim
        self.passages = 0

    def embed_passages(self, texts):
        self.passages += len(texts)
        return self.inner.embed_passages(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


@pytest.fixture(scope="module")
def service(seed_index, tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("hostile") / "index"
    shutil.copytree(seed_index.index_dir, index_dir)
    settings = seed_index.model_copy(
        update={"index_dir": index_dir, "llm": LLMSettings(backend="mock", choice="small")}
    )
    app = create_app(settings, ApiSettings(max_upload_bytes=4 << 20, max_body_bytes=16 * 1024, api_key=None))
    with TestClient(app, raise_server_exceptions=False) as c:
        deadline = time.monotonic() + 180
        while c.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        embedder = app.state.services.embedder
        embedder._inner = CountingEmbedder(embedder._inner)
        yield c, embedder._inner


@pytest.fixture
def client(service):
    return service[0]


CASES = [  # name, bytes, expected status
    ("单行.txt", lambda: h.single_line(256 << 10, punctuated=False), 201),
    ("细行.txt", lambda: h.tiny_lines(100_000), 422),  # only noise: "no paragraphs to index"
    ("炸弹.docx", lambda: h.docx_zip_bomb(2 << 30), 422),
    ("谎报.docx", lambda: h.docx_zip_bomb(2 << 30, lie=True), 422),
    ("实体.docx", h.docx_billion_laughs, 422),
    ("嵌套.docx", h.docx_deep_nesting, 422),
    ("外部实体.docx", h.docx_external_entity, 201),
    ("脚本.pdf", h.pdf_with_javascript, 201),
    ("页数.pdf", h.pdf_many_pages, 422),
    ("流炸弹.pdf", lambda: h.pdf_stream_bomb(256 << 20), 422),
    ("脚本.html", h.html_hostile, 201),
    ("不可见.txt", lambda: h.invisible_report().encode("utf-8"), 201),
    ("注入.txt", lambda: h.injection_report().encode("utf-8"), 201),
]


@pytest.mark.parametrize("name, make, status", CASES, ids=[c[0] for c in CASES])
def test_a_hostile_upload_is_indexed_or_refused_in_one_line(service, name, make, status):
    client, counter = service
    raw = make()
    before, t = counter.passages, time.monotonic()
    r = client.post(
        "/v1/documents", params={"name": name}, content=raw, headers={"Content-Type": "application/octet-stream"}
    )
    embedded = counter.passages - before
    assert time.monotonic() - t < HANG_S, "hung"  # the bound on the work is `embedded`, below
    assert r.status_code == status, r.text[:300]
    assert "Traceback" not in r.text
    body = r.json()
    if status == 201:
        doc = body["document"]
        assert doc["chunks"] >= 1
        # the library's other chunks come from the embedding cache: the upload costs at most its own
        # chunks (fewer when a paragraph's text is already in the cache, as the cleaned 不可见.txt's are)
        assert embedded <= doc["chunks"], f"{embedded} passages embedded for {doc['chunks']} chunks"
        text = client.get(f"/v1/documents/{doc['id']}/text").json()
        longest = max(len("".join(text["text"][p["start"] : p["end"]].split())) for p in text["paragraphs"])
        assert longest <= 3 * 300, f"a chunk of {longest} characters"
        if name == "单行.txt":  # nor cut into crumbs: a line of 87,000 characters is about 300 chunks
            assert doc["chunks"] <= len(text["text"]) // 100, f"{doc['chunks']} chunks"
        assert "/etc/passwd" not in text["text"] and "root:x:" not in text["text"]
        assert all(leak not in text["text"] for leak in h.LEAKS)
    else:
        assert embedded == 0, f"a refused upload embedded {embedded} passages"
        message = body["error"]["message"]
        assert message and "\n" not in message and "Traceback" not in message


def test_a_file_over_the_upload_limit_is_a_413(client):
    r = client.post(
        "/v1/documents",
        params={"name": "大.txt"},
        content=h.single_line(10 << 20),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 413 and "error" in r.json()
