"""API key check and request size limits (body and header block).

The key is compared with `hmac.compare_digest`, so the time taken does not reveal how much of a
guess was right. Size limits are enforced before a handler reads anything: a declared
Content-Length over the limit is refused at once, and a chunked body is counted as it arrives.
"""

from __future__ import annotations

import hmac
import json

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import AUTH, INVALID, TOO_LARGE, ApiError, BodyTooLarge, error_body

_bearer = HTTPBearer(auto_error=False, description="The server's API key (RAG_API_API_KEY), when one is set.")


def key_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


async def require_api_key(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    """Dependency on every route except the health probes; a no-op when no key is configured."""
    expected = request.app.state.api_settings.api_key
    if not expected:
        return
    if credentials is None or not key_matches(credentials.credentials, expected):
        raise ApiError(
            401,
            "missing or wrong API key (send `Authorization: Bearer <key>`)",
            AUTH,
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )


class BodySizeLimit:
    """Pure ASGI middleware (it must not buffer or wrap streaming responses): 413 for bodies over the
    limit; uploads to /v1/documents have their own, larger limit."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int, max_header_bytes: int = 16 * 1024):
        self.app = app
        self.max_body = max_body_bytes
        self.max_upload = max_upload_bytes
        self.max_headers = max_header_bytes

    def _limit(self, scope: Scope) -> int:
        if scope.get("method") == "POST" and scope.get("path", "").rstrip("/") == "/v1/documents":
            return self.max_upload
        return self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        size = sum(len(k) + len(v) + 4 for k, v in headers)
        if size > self.max_headers:  # the HTTP server's own limit can let a block that arrives at once through
            await _reject(
                send,
                431,
                f"the request headers are {size} bytes; at most {self.max_headers} are accepted",
                TOO_LARGE,
                code="headers_too_large",
            )
            return
        limit = self._limit(scope)
        length = None
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    length = int(v)
                except ValueError:
                    await _reject(send, 400, "invalid Content-Length header", INVALID)
                    return
        if length is not None and length > limit:
            await _reject(send, 413, f"the request body is {length} bytes; at most {limit} are accepted", TOO_LARGE)
            return
        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True  # the handler must not act on a cut body: fail its read
                    raise BodyTooLarge(f"the request body is larger than {limit} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                if message["type"] == "http.response.start":
                    started = True
                    await _reject(send, 413, f"the request body is larger than {limit} bytes", TOO_LARGE)
                return
            if exceeded:
                return
            await send(message)

        await self.app(scope, counted_receive, guarded_send)


async def _reject(send: Send, status: int, message: str, kind: str, code: str | None = None) -> None:
    body = json.dumps(error_body(message, kind, code=code or ("body_too_large" if status == 413 else None))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
