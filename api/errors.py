"""One error shape for every endpoint, the OpenAI one, so that OpenAI clients and our own read it alike:

    {"error": {"message": "...", "type": "invalid_request_error", "param": "question", "code": "..."}}

Bad input is always a 4xx with a clear message; an unexpected failure is a 500 with a generic message
(the traceback goes to the server log, never to the client).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from rag.errors import RagError

log = logging.getLogger(__name__)

INVALID = "invalid_request_error"
AUTH = "authentication_error"
NOT_FOUND = "not_found_error"
CONFLICT = "conflict_error"
TOO_LARGE = "request_too_large"
BUSY = "server_busy"
UNAVAILABLE = "service_unavailable"
SERVER = "server_error"


class BodyTooLarge(Exception):
    """Raised while reading a body that grew past the limit without declaring its length (by the
    size-limit middleware of `api.security`; answered here with 413)."""


class ErrorDetail(BaseModel):
    message: str = Field(description="What went wrong, in a sentence.")
    type: str = Field(
        description="Error class: invalid_request_error, authentication_error, not_found_error, "
        "conflict_error, request_too_large, server_busy, service_unavailable, server_error."
    )
    param: str | None = Field(None, description="The request field at fault, when there is one.")
    code: str | None = Field(None, description="A stable machine-readable code, e.g. `model_not_found`.")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """An error with its HTTP status, raised anywhere in a request."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = INVALID,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = headers or {}


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_response(
    status: int,
    message: str,
    type: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(message, type, param, code), status_code=status, headers=headers)


def _loc(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


# The error type of each status a `RagError` subclass carries (any other status: bad input).
_KINDS = {404: NOT_FOUND, 409: CONFLICT, 413: TOO_LARGE, 503: UNAVAILABLE}


def rag_error_status(exc: RagError) -> tuple[int, str, str | None]:
    """HTTP status, type and code for a pipeline error: what its class says."""
    return exc.status, _KINDS.get(exc.status, INVALID), exc.code


# Documented error responses, for the OpenAPI description of each route.
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong API key (only when a key is configured)."},
    413: {"model": ErrorResponse, "description": "Request body larger than the configured limit."},
    422: {"model": ErrorResponse, "description": "A field is missing, of the wrong type or out of range."},
}
ANSWER_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMON_ERRORS,
    400: {"model": ErrorResponse, "description": "Malformed JSON, empty or over-long question."},
    404: {"model": ErrorResponse, "description": "Unknown model."},
    503: {
        "model": ErrorResponse,
        "description": "The answer queue is full or the service is still loading (see the Retry-After header), "
        "or the LLM server is down, slow or failing (code `llm_unavailable`), streamed or not.",
    },
}


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):  # included routers hold the routes
        route = context.original_route  # its path holds its router's prefix (the app adds none)
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Exception handlers that turn every failure into the error shape above."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.type, exc.param, exc.code, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        if first.get("type") == "json_invalid":
            ctx = first.get("ctx") or {}
            reason = ctx.get("error", "invalid JSON")
            return error_response(400, f"the request body is not valid JSON ({reason})", INVALID, code="invalid_json")
        param = _loc(tuple(first.get("loc", ())))
        msg = first.get("msg", "invalid request")
        if first.get("type") == "missing" and param:
            message = f"{param} is required"
        elif param:
            message = f"{param}: {msg}"
        else:
            message = msg if msg != "Field required" else "the request body is required"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        return error_response(422, message, INVALID, param, code=str(first.get("type", "invalid")))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {401: AUTH, 404: NOT_FOUND, 413: TOO_LARGE, 503: UNAVAILABLE}.get(exc.status_code, INVALID)
        if exc.status_code >= 500:
            kind = SERVER
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}"
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            detail = f"method {request.method} is not allowed on {request.url.path}"
            headers["Allow"] = ", ".join(allowed_methods(request))
        code = None
        if exc.status_code == 400 and "parsing the body" in detail:
            detail, code = "the request body is not valid JSON (not UTF-8 text, or nested too deeply)", "invalid_json"
        return error_response(exc.status_code, detail, kind, code=code, headers=headers or None)

    @app.exception_handler(RagError)
    async def _rag(request: Request, exc: RagError) -> JSONResponse:
        status, kind, code = rag_error_status(exc)
        return error_response(status, str(exc), kind, code=code)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return error_response(413, str(exc), TOO_LARGE, code="body_too_large")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error; the server log has the details", SERVER)


def stream_error(exc: BaseException) -> dict:
    """The error object sent inside a stream that has already started (its status was 200)."""
    if isinstance(exc, ApiError):
        return error_body(exc.message, exc.type, exc.param, exc.code)
    if isinstance(exc, RagError):
        _, kind, code = rag_error_status(exc)
        return error_body(str(exc), kind, code=code)
    log.error("answering failed", exc_info=exc)
    return error_body("internal error; the server log has the details", SERVER)
