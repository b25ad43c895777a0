"""The OpenAPI document tells the truth: schemathesis runs every check (status codes, response
schemas, content types, headers, negative and positive data, authentication, stateful links)
against the app over ASGI, with and without an API key, and finds nothing.

The app answers with the mock model on a private copy of the seed index: uploads and deletions made
during the run change that copy only. What JSON Schema cannot say (what bytes are a report,
a byte limit on a whole body) is in api_schema_hooks.py, with its reasons; no check is
left out. A longer run over a live server is in the README of api/ (the same hooks)."""

from __future__ import annotations

import shutil
import time

import api_schema_hooks  # registers the report strategies, the case filters and the log of removed reports
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from api.main import create_app
from api.openapi import NON_BLANK
from api.settings import ApiSettings
from rag.settings import LLMSettings

KEY = "s3cret-contract-key"


@pytest.fixture(params=[None, KEY], ids=["without-key", "with-key"])
def served(request, seed_index, tmp_path):
    """A started app (lifespan run, index loaded) on a private copy of the seed index."""
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index.index_dir, index_dir)
    settings = seed_index.model_copy(update={"index_dir": index_dir, "llm": LLMSettings(backend="mock")})
    app = create_app(settings, ApiSettings(api_key=request.param, max_upload_bytes=256 * 1024))
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {request.param}"} if request.param else {}
        deadline = time.monotonic() + 120
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.2)
        yield app, request.param, headers, index_dir


def _describe(recorder, case_id: str) -> str:
    """The request and the response of a failed case, for the assertion message."""
    case = recorder.cases[case_id].value
    interaction = recorder.interactions.get(case_id)
    response = interaction.response if interaction is not None else None
    answer = f"{response.status_code} {response.content[:300]!r}" if response is not None else "no response"
    return f"{case.method} {case.path} {case.path_parameters} {case.query} {str(case.body)[:300]} -> {answer}"


def _without_lifespan(app):
    """The started app as schemathesis' ASGI client sees it: its client runs the lifespan again,
    which would replace the loaded service with one still loading (503s at the start of the run)."""

    async def asgi(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await app(scope, receive, send)

    return asgi


def run(app, headers: dict, max_examples: int) -> tuple[list, list, dict]:
    """Failures, errors and counts of one schemathesis run (all phases, all checks)."""
    api_schema_hooks.reset()  # a fresh copy of the index: no report removed yet
    config = SchemathesisConfig.from_dict(
        {"headers": headers, "generation": {"max-examples": max_examples, "database": "none"}, "workers": 1}
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", _without_lifespan(app), config=config, headers=headers)
    failures, errors, counts = [], [], {"scenarios": 0, "operations": set()}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            counts["scenarios"] += 1
            counts["operations"].add(event.label)
            if event.status == Status.FAILURE:
                for case_id, checks in event.recorder.checks.items():
                    for check in checks:
                        if check.status == Status.FAILURE:
                            failures.append((event.label, check.name, _describe(event.recorder, case_id)))
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            errors.append(str(getattr(event, "value", None) or getattr(event, "exception", event))[:600])
    return failures, errors, counts


def test_schemathesis_finds_nothing(served):
    app, key, headers, index_dir = served
    failures, errors, counts = run(app, headers, max_examples=15)
    assert not errors, errors
    assert not failures, "\n".join(map(str, failures))
    assert len(counts["operations"]) >= 11, counts  # every documented operation was exercised
    spec = TestClient(app).get("/openapi.json", headers=headers).json()
    assert ("securitySchemes" in spec.get("components", {})) == bool(key)
    assert all(
        ("401" in op["responses"]) == bool(key)
        for p, ops in spec["paths"].items()
        for op in ops.values()
        if p not in ("/healthz", "/readyz")
    )


def test_the_document_carries_the_configured_limits(seed_index):
    app = create_app(seed_index, ApiSettings(max_question_chars=120, max_k=7, max_messages=9))
    spec = TestClient(app).get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    ask, search = schemas["AskRequest"]["properties"], schemas["SearchRequest"]["properties"]
    assert ask["question"]["maxLength"] == search["question"]["maxLength"] == 120
    assert ask["question"]["pattern"] == NON_BLANK and ask["question"]["minLength"] == 1
    assert search["k"]["maximum"] == 7 and search["k"]["default"] == 7
    assert next(s for s in ask["k"]["anyOf"] if s.get("type") == "integer")["maximum"] == 7
    assert schemas["ChatCompletionRequest"]["properties"]["messages"]["maxItems"] == 9
    assert schemas["UserMessage"]["properties"]["content"]["anyOf"][0]["maxLength"] == 120
    assert "securitySchemes" not in spec.get("components", {})


def test_the_question_limit_never_exceeds_the_pipelines(seed_index):
    """The pipeline's own limit (`RAG_MAX_QUESTION_CHARS`) bounds what the API admits and documents."""
    app = create_app(seed_index.model_copy(update={"max_question_chars": 80}), ApiSettings(max_question_chars=120))
    spec = TestClient(app).get("/openapi.json").json()
    assert spec["components"]["schemas"]["AskRequest"]["properties"]["question"]["maxLength"] == 80
    assert app.state.api_settings.max_question_chars == 80


def test_the_model_enum_is_what_the_server_accepts(served):
    app, key, headers, _ = served
    client = TestClient(app)
    spec = client.get("/openapi.json", headers=headers).json()
    enum = next(s for s in spec["components"]["schemas"]["AskRequest"]["properties"]["model"]["anyOf"] if "enum" in s)[
        "enum"
    ]
    listed = {m["id"] for m in client.get("/v1/models", headers=headers).json()["data"]}
    assert listed <= set(enum) and {"default", "small"} <= set(enum)
    for model in enum:
        r = client.post("/v1/search", json={"question": "甲市的目标？", "k": 1}, headers=headers)
        assert r.status_code == 200
        r = client.post("/v1/ask", json={"question": "甲市今年要新建多少个公园？", "model": model}, headers=headers)
        assert r.status_code == 200, (model, r.text)
    r = client.post("/v1/ask", json={"question": "甲市今年要新建多少个公园？", "model": f" {enum[0]}"}, headers=headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"  # not in the enum: refused


def test_the_scope_the_document_describes_is_the_scope_the_server_accepts(retriever):
    """Every scope drawn from the library's names, a few it does not hold and padded ones: valid against
    the document's schema exactly when the server's check accepts it."""
    import random

    import jsonschema_rs

    from api.errors import ApiError
    from api.scope import ScopeRequest, Vocabulary, check_scope, schema

    vocabulary = Vocabulary.of(retriever)
    validator = jsonschema_rs.validator_for(schema(ScopeRequest.model_json_schema(), vocabulary))
    names = {
        "docs": [n for n, _ in vocabulary.docs] + ["no-such-report", f"seeds/{vocabulary.docs[0][0]}.txt"],
        "places": [p for p, _ in vocabulary.places] + ["大同", " 代县", "代县,太原"],
        "years": [2024, 2023],
        "levels": ["national", "province", "prefecture", "county", "district"],
    }
    rng = random.Random(7)
    verdicts = set()
    for _ in range(600):
        scope = {f: rng.sample(v, rng.choice([0, 0, 1, 1, 2])) for f, v in names.items() if rng.random() < 0.6}
        try:
            accepted = check_scope(retriever, ScopeRequest.model_validate(scope)) is not None or not any(scope.values())
        except ApiError as exc:
            assert exc.status == 422 and exc.code == "unknown_scope"
            accepted = False
        assert validator.is_valid(scope) == accepted, scope
        verdicts.add(accepted)
    assert verdicts == {True, False}
