"""The FastAPI application: one router per area, one service container per process.

    uvicorn --factory api.main:create_app        # or: rag serve / make serve

`create_app` takes the pipeline settings and the API settings (both from the environment when not
given), so tests build apps on temporary indexes side by side.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse

from api import errors
from api import openapi as document_builder
from api.ask.router import router as ask_router
from api.chat.router import router as chat_router
from api.docs import render as render_docs
from api.documents.router import router as documents_router
from api.health.router import router as health_router
from api.indicators.router import router as indicators_router
from api.models.router import router as models_router
from api.scope import Vocabulary
from api.search.router import router as search_router
from api.security import BodySizeLimit, require_api_key
from api.services import Services
from api.settings import ApiSettings
from api.web.router import router as web_router
from rag import resident
from rag.settings import Settings, get_settings

log = logging.getLogger(__name__)

DESCRIPTION = """Questions about Chinese government work reports, answered offline with verified paragraph
citations.

* `POST /v1/ask`: the native endpoint (the object of `rag ask --json`, or server-sent events).
* `POST /v1/chat/completions`: OpenAI-compatible; citations in `choices[0].message.citations`
  (streaming: in the last chunk's `choices[0].delta.citations`).
* `POST /v1/search`, `GET /v1/models`, `/v1/documents` (list, upload in any format, remove, the original file,
  the text as cited), `/healthz`, `/readyz`.
* `GET /v1/indicators`, `GET /v1/indicators/compare`: the headline indicators of the reports (targets and
  results, each cited to its sentence; JSON or CSV), and each target beside the result a later report gives.
* `/`: the web page (chat, citations opening the report at the quoted paragraph, documents, indicators).

Errors always have the shape `{"error": {"message", "type", "param", "code"}}`. When the server has an
API key, every endpoint except `/healthz` and `/readyz` (this page included) needs
`Authorization: Bearer <key>`; the web page's own files load without it (they hold no data). Answers
are produced one at a time; when the queue is full the answer endpoints return 503 with `Retry-After`.
"""


def create_app(
    settings: Settings | None = None, api_settings: ApiSettings | None = None, announce: bool = False
) -> FastAPI:
    """`announce`: once ready, tell new `rag ask` processes of this index where to send their
    questions (`rag.resident`; `rag serve` does, an application embedding the API may not)."""
    settings = settings or get_settings()
    api_settings = api_settings or ApiSettings()
    if api_settings.max_question_chars > settings.max_question_chars:  # the pipeline would refuse the rest
        api_settings = api_settings.model_copy(update={"max_question_chars": settings.max_question_chars})

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services = Services(settings, api_settings)
        app.state.services = services
        services.start()
        if announce:
            url = resident.local_url(api_settings.host, api_settings.port)
            services.when_ready(lambda: resident.announce(settings, url))
        try:
            yield
        finally:
            if announce:
                resident.withdraw(settings)
            services.close()
            app.state.services = None

    app = FastAPI(
        title="gov-report-rag",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.api_settings = api_settings
    app.state.services = None
    errors.install(app)

    protected = [Depends(require_api_key)]
    for router in (ask_router, chat_router, search_router, models_router, documents_router, indicators_router):
        app.include_router(router, dependencies=protected)
    app.include_router(health_router)
    app.include_router(web_router)  # the page holds no data: it loads without the key, its calls carry it

    cached: dict[tuple, dict] = {}

    def document() -> dict:
        """The OpenAPI document under this configuration (`api.openapi`), built again once the model ids
        are known and whenever the library (what a scope may name) changes."""
        services = app.state.services
        ready = services is not None and services.ready
        ids = services.catalog.accepted_ids() if ready else None
        vocabulary = Vocabulary.of(services.assistant.retriever) if ready else None
        key = (tuple(ids) if ids is not None else (), vocabulary)
        if key not in cached:
            cached.clear()  # only the current configuration's document is asked for again
            cached[key] = document_builder.build(app, api_settings, ids, vocabulary)
        return cached[key]

    app.openapi = document  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False, dependencies=protected)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=protected)
    async def docs() -> HTMLResponse:
        return HTMLResponse(render_docs(app.openapi()))

    app.add_middleware(
        BodySizeLimit,
        max_body_bytes=api_settings.max_body_bytes,
        max_upload_bytes=api_settings.max_upload_bytes,
        max_header_bytes=api_settings.max_header_bytes,
    )
    if api_settings.cors_origins:  # outermost, so that errors carry the CORS headers too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=api_settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app
