"""The service under uvicorn on a loopback port, called by the official `openai` client (streaming
and not) and by plain httpx: API key, error mapping, the answer queue, and a client that goes away
cancelling its generation."""

from __future__ import annotations

import json
import sys
import time

import httpx
import pytest
from live_server import live_server, private_index
from need_model import require_model

from api.main import create_app
from api.settings import ApiSettings
from rag.settings import LLMSettings

pytestmark = pytest.mark.llm

KEY = "live-test-key"
Q_XINZHOU = "忻州今年要新认定多少家高新技术企业？"
Q_TAIYUAN = "太原今年计划新增公共停车位多少个？"


@pytest.fixture(scope="module")
def server(seed_index, tmp_path_factory):
    require_model(seed_index, "small")
    settings = private_index(seed_index, tmp_path_factory, "live", llm=LLMSettings(choice="small"))
    make = lambda port: create_app(settings, ApiSettings(api_key=KEY, max_queue=2, retry_after_s=2))  # noqa: E731
    with live_server(make, timeout=180) as (base, app):
        yield base, app.state.services


@pytest.fixture
def client(server):
    import openai

    return openai.OpenAI(base_url=f"{server[0]}/v1", api_key=KEY, max_retries=0, timeout=120)


def _stats(base: str) -> dict:
    return httpx.get(f"{base}/readyz").json()["queue"]


def test_openai_client_lists_the_models(client):
    ids = {m.id for m in client.models.list()}
    assert ids == {"gov-report-rag", "gov-report-rag-small"}


def test_openai_client_gets_a_cited_answer(client):
    resp = client.chat.completions.create(
        model="gov-report-rag-small", messages=[{"role": "user", "content": Q_XINZHOU}]
    )
    msg = resp.choices[0].message
    assert "53" in msg.content, msg.content
    citations = msg.model_extra["citations"]
    assert citations and any("53" in c["quote"] for c in citations)
    assert citations[0]["doc"].startswith("000_")
    assert resp.usage.prompt_tokens > 0 and resp.choices[0].finish_reason == "stop"


def test_openai_client_streams_and_gets_the_citations_in_the_last_chunk(client):
    stream = client.chat.completions.create(
        model="gov-report-rag-small", stream=True, messages=[{"role": "user", "content": Q_TAIYUAN}]
    )
    pieces, last = [], None
    for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            if chunk.choices[0].finish_reason:
                last = chunk
    text = "".join(pieces)
    assert last is not None and last.choices[0].finish_reason == "stop"
    extra = last.choices[0].delta.model_extra
    assert extra["citations"] and extra["citations"][0]["doc"].startswith("002_")
    assert "1万" in text or "10000" in text or "refused" in extra and extra["refused"], text
    assert text == extra["answer"] or text.endswith("\n---\n" + extra["answer"])


def test_openai_errors_map_to_the_client_exceptions(server, client):
    import openai

    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gov-report-rag-small", messages=[{"role": "user", "content": " "}])
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(
            model="gov-report-rag-small", messages=[{"role": "user", "content": "x"}], temperature=5
        )
    wrong = openai.OpenAI(base_url=f"{server[0]}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    assert httpx.get(f"{server[0]}/healthz").status_code == 200  # health needs no key


def test_full_queue_is_a_503_the_client_can_retry(server, client):
    import openai

    services = server[1]
    tickets = [services.queue.admit(), services.queue.admit()]
    try:
        with pytest.raises(openai.APIStatusError) as e:
            client.chat.completions.create(
                model="gov-report-rag-small", messages=[{"role": "user", "content": Q_XINZHOU}]
            )
        assert e.value.status_code == 503 and e.value.response.headers["retry-after"] == "2"
    finally:
        for t in tickets:
            t.release()


def test_closing_a_stream_cancels_the_generation(server):
    base = server[0]
    before = _stats(base)
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(timeout=60) as http:
        with http.stream("POST", f"{base}/v1/ask", headers=headers, json={"question": Q_XINZHOU, "stream": True}) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("event: token"):
                    break  # the model is generating: hang up
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = _stats(base)
        if now["admitted"] == 0 and now.get("cancelled", 0) > before.get("cancelled", 0):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the generation was not cancelled: {before} -> {_stats(base)}")
    assert now.get("answered", 0) == before.get("answered", 0)


def test_a_client_that_gives_up_while_queued_is_never_answered(server, hold_worker):
    """Hold the worker, let a non-streaming request wait in the queue, time the client out, release."""
    base, services = server
    before = _stats(base)
    with hold_worker(services.queue):
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{base}/v1/ask", headers={"Authorization": f"Bearer {KEY}"}, json={"question": Q_XINZHOU}, timeout=1.0
            )
        time.sleep(0.6)  # the server notices the disconnect (it polls every 0.25 s)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = _stats(base)
        if now["admitted"] == 0:
            break
        time.sleep(0.1)
    assert now["admitted"] == 0
    assert now.get("cancelled", 0) == before.get("cancelled", 0) + 1
    assert now.get("answered", 0) == before.get("answered", 0)


def test_native_stream_over_the_wire(server):
    base = server[0]
    with httpx.stream(
        "POST",
        f"{base}/v1/ask",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=120,
        json={"question": "大同今年要新建多少座5G基站？", "stream": True},
    ) as r:
        body = r.read().decode("utf-8")
    kinds = [line[7:] for line in body.splitlines() if line.startswith("event: ")]
    assert kinds[-1] == "done" and "answer" in kinds and "citations" in kinds
    done = json.loads(body.strip().split("\n\n")[-1].split("data: ", 1)[1])
    assert done["refused"] is True


def test_load_test_tool_runs_against_the_server_and_stops_by_itself(server):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "eval" / "load_test.py"
    spec = importlib.util.spec_from_file_location("load_test", path)
    load_test = importlib.util.module_from_spec(spec)
    sys.modules["load_test"] = load_test  # dataclasses look their module up
    spec.loader.exec_module(load_test)
    with pytest.raises(SystemExit, match="loopback"):
        load_test.loopback_only("http://example.com:8000")
    with pytest.raises(SystemExit, match="loopback"):
        load_test.loopback_only("http://10.0.0.1:8000")
    args = load_test.argparse.Namespace(
        url=server[0],
        clients=3,
        seconds=2.0,
        timeout=30,
        mix="search=1",
        model=None,
        api_key=KEY,
        pid=None,
        no_backoff=False,
    )
    summary = load_test.asyncio.run(load_test.main_async(args))
    # it stopped by itself: no request starts past --seconds and one in flight gets --timeout (the
    # tool's own bound, whatever the machine's load)
    assert summary["seconds"] <= args.seconds + args.timeout + 5
    assert summary["failures"] == 0 and summary["requests"] > 3
    assert summary["endpoints"]["search"]["p50_s"] is not None and summary["status"] == {"200": summary["requests"]}
