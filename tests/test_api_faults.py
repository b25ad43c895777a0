"""Failures inside the service, with the service container replaced through `dependency_overrides`:
an unexpected exception is a 500 in the error shape (never a traceback), in a stream an `error`
event; a service that is still loading is a 503 with Retry-After."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.services import Services, get_services, load_catalog
from api.settings import ApiSettings


class BrokenAssistant:
    """Retrieval works, answering blows up with an internal error."""

    def __init__(self, retriever):
        self.retriever = retriever
        self._llms = {}

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
            services.catalog = load_catalog(seed_index, api_settings)
            services._assistant = BrokenAssistant(retriever)
            services._ready.set()
        app = create_app(seed_index, api_settings)
        app.dependency_overrides[get_services] = lambda: services
        return TestClient(app, raise_server_exceptions=False), services
    return make


def test_an_internal_error_is_a_500_without_details(app_with):
    client, services = app_with(ready=True)
    for path, body in [("/v1/ask", {"question": "忻州今年要新认定多少家高新技术企业？"}),
                       ("/v1/chat/completions", {"messages": [{"role": "user", "content": "忻州今年的目标？"}]})]:
        r = client.post(path, json=body)
        assert r.status_code == 500
        assert r.json() == {"error": {"message": "internal error; the server log has the details",
                                      "type": "server_error", "param": None, "code": None}}
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
    for method, path, body in [("POST", "/v1/ask", {"question": "x"}), ("POST", "/v1/search", {"question": "x"}),
                               ("GET", "/v1/documents", None), ("GET", "/v1/models", None)]:
        r = client.request(method, path, json=body)
        assert r.status_code == 503 and r.headers["retry-after"] == "7", (path, r.text)
        assert r.json()["error"]["code"] == "not_ready"
    assert client.get("/healthz").status_code == 200
