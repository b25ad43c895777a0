"""`rag serve`: the HTTP service (the API and the web page) on one host and port. It lives with the
service, which is built on the library, so that the library's command line never imports the service."""

from __future__ import annotations

from typing import Any

import typer

from rag.cli.options import _settings
from rag.console import err, fail
from rag.errors import RagError

READ_LIMIT_BYTES = 1024 * 1024
"""The HTTP parser's own buffer for a header block that is still arriving. h11 refuses a block over its
limit (16 KiB by default) with a bare 400 and closes the connection while the client may still be
sending, so a client saw a reset or a 431 depending on how the block was split into reads. With this
larger buffer the app's own limit (RAG_API_MAX_HEADER_BYTES, a 431 in the error shape) decides."""


def uvicorn_options(api_settings: Any) -> dict[str, Any]:
    """The server options the service runs with, shared by `rag serve` and the tests that serve it."""
    return {"h11_max_incomplete_event_size": max(READ_LIMIT_BYTES, 4 * api_settings.max_header_bytes)}


def serve(
    host: str | None = typer.Option(None, "--host", help="Interface to bind (default: RAG_API_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="Port (default: RAG_API_PORT, 8000)."),
    lazy: bool = typer.Option(False, "--lazy", help="Load the LLM on the first question instead of at start."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Start the HTTP API (native /v1/ask, OpenAI-compatible /v1/chat/completions, search, documents)."""
    import ipaddress

    import uvicorn

    from api.main import create_app
    from api.settings import ApiSettings

    try:
        s = _settings()
        given: dict[str, Any] = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
        if lazy:
            given["preload"] = False
        api_settings = ApiSettings(**given)  # the options win over RAG_API_* (and are validated)
    except (RagError, ValueError) as exc:
        fail(exc)
    try:
        loopback = api_settings.host == "localhost" or ipaddress.ip_address(api_settings.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not api_settings.api_key:
        err.print(f"[yellow]warning:[/] listening on {api_settings.host} without an API key (set RAG_API_API_KEY)")
    err.print(f"serving on http://{api_settings.host}:{api_settings.port} (docs at /docs); Ctrl-C stops")
    uvicorn.run(
        create_app(s, api_settings, announce=True),
        host=api_settings.host,
        port=api_settings.port,
        log_level=log_level,
        **uvicorn_options(api_settings),
    )
