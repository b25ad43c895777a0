"""A resident `rag serve` that a new `rag ask` process hands its question to.

Why: a new process spends ~2 s on imports and the index and 1–3 s loading the model before its
first token; a running server has both in memory and answers the same question with the same pipeline. The
server announces itself in the index folder once it is ready (`announce`) and withdraws at stop;
`rag ask` forwards only to a server on this machine, alive, serving the same index with exactly the
same pipeline settings (a fingerprint of `Settings`), so the answer is the one it would have
computed itself. Anything else (no file, a stale one, another configuration, a refused connection)
means answering in the process, as before. Standard library only: the client path must stay cheap.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import urlsplit

from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import RagError
from rag.files import atomic_write_bytes, pid_alive
from rag.scope import Scope
from rag.settings import Settings

log = logging.getLogger(__name__)

ANNOUNCEMENT = ".serve.json"


def fingerprint(settings: Settings) -> str:
    """Everything that can change an answer, as one hash: two processes with the same fingerprint
    answer a question identically."""
    dump = json.dumps(
        settings.model_dump(mode="json", exclude={"forward_to_server"}), sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(dump.encode()).hexdigest()


def local_url(host: str, port: int) -> str:
    """The address a client on this machine uses for a server bound to `host` (a wildcard bind is
    reached through loopback)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def announce(settings: Settings, url: str) -> Path | None:
    """Tell later `rag ask` processes where this ready server listens (atomically; a folder that
    cannot be written costs them speed only)."""
    path = settings.index_dir / ANNOUNCEMENT
    data = {"url": url, "pid": os.getpid(), "machine": socket.gethostname(), "settings": fingerprint(settings)}
    try:
        atomic_write_bytes(path, json.dumps(data).encode())
    except OSError as exc:
        log.warning("cannot announce the server in %s: %s", path, exc)
        return None
    return path


def withdraw(settings: Settings) -> None:
    """Remove this process's announcement (not a newer server's)."""
    path = settings.index_dir / ANNOUNCEMENT
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


@dataclass
class Resident:
    url: str

    @property
    def where(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 80  # `find` admits only http://host:port


def find(settings: Settings) -> Resident | None:
    """The running server to forward to, or None (see the module's docstring for the conditions)."""
    try:
        data = json.loads((settings.index_dir / ANNOUNCEMENT).read_text())
        url, pid = data["url"], int(data["pid"])
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.port is None:
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if data.get("machine") != socket.gethostname():
        return None
    if data.get("settings") != fingerprint(settings):
        log.debug("a server is running with other settings; answering here")
        return None
    return Resident(url) if pid_alive(pid) else None


class _ClientKey(BaseSettings):
    """The one service setting a client needs: the key, read as the service reads it."""

    model_config = SettingsConfigDict(env_prefix="RAG_API_", env_file=".env", extra="ignore")

    api_key: str | None = None


def api_key() -> str | None:
    """The key to send to a server on this machine: RAG_API_API_KEY (or `.env`), as `rag serve` reads it."""
    return _ClientKey().api_key


class Unreachable(Exception):
    """The server could not take the question; the caller answers it itself."""


def ask(
    resident: Resident,
    question: str,
    *,
    k: int | None,
    model: str | None,
    api_key: str | None,
    on_event: Callable[[str, object], None] | None = None,
    busy_wait_s: float = 120.0,
    scope: Scope | None = None,
) -> dict:
    """The answer object of `POST /v1/ask` (the same as `Answer.to_dict()`), streamed through
    `on_event` when given. Raises `Unreachable` when nothing was answered and answering locally is
    the right fallback, `RagError` when the server refused the question for a reason the user must
    see (a bad key, a question too long, a scope naming what the library does not hold)."""
    body: dict = {"question": question, "stream": on_event is not None}
    if k is not None:
        body["k"] = k
    if model is not None:
        body["model"] = model
    if scope:
        body["scope"] = request_scope(scope)
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream" if on_event else "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    deadline = time.monotonic() + busy_wait_s
    host, port = resident.where
    while True:
        conn = http.client.HTTPConnection(host, port, timeout=600)
        try:
            conn.request("POST", "/v1/ask", body=json.dumps(body, ensure_ascii=False).encode(), headers=headers)
            resp = conn.getresponse()
        except OSError as exc:
            conn.close()
            raise Unreachable(str(exc)) from exc
        if resp.status == 503:
            retry_after = _retry_after(resp)
            error = _error(resp)
            conn.close()
            if retry_after is None or time.monotonic() + retry_after > deadline:
                raise Unreachable(error)
            log.warning("the server at %s is busy (%s); waiting %s s", resident.url, error, retry_after)
            time.sleep(retry_after)
            continue
        try:
            if resp.status == 401:
                raise RagError(
                    f"the server at {resident.url} needs an API key: set RAG_API_API_KEY, "
                    "or answer in this process with --local"
                )
            if resp.status != 200:
                raise RagError(f"the server at {resident.url} refused the question: {_error(resp)}")
            if on_event is None:
                return json.loads(resp.read())
            return _read_stream(resp, on_event)
        finally:
            conn.close()


def request_scope(scope: Scope) -> dict:
    """The scope as `POST /v1/ask` takes it: the fields that limit, and a document given as a path
    (`--doc seeds/甲市.txt`) by its file name, which is how the server lists it."""
    out = {k: v for k, v in scope.to_dict().items() if v}
    if scope.docs:
        out["docs"] = list(dict.fromkeys(PurePath(d).name or d for d in scope.docs))
    return out


def _retry_after(resp: http.client.HTTPResponse) -> float | None:
    try:
        return float(resp.getheader("Retry-After") or "")
    except ValueError:
        return None


def _error(resp: http.client.HTTPResponse) -> str:
    raw = resp.read()
    try:
        return json.loads(raw)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {resp.status} {raw[:200].decode(errors='replace')}".strip()


def _read_stream(resp: http.client.HTTPResponse, on_event: Callable[[str, object], None]) -> dict:
    """Server-sent events → `on_event` for what a terminal shows as it comes, then the answer
    object assembled from `answer`, `citations` and `done`."""
    result: dict = {}
    kind, data = None, []
    for raw in resp:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif not line and kind is not None:
            payload: Any = json.loads("\n".join(data)) if data else None
            if kind == "error":
                raise RagError(f"the server failed while answering: {payload['error']['message']}")
            if kind == "answer":
                result["answer"] = payload
            elif kind == "citations":
                result["citations"] = payload
            elif kind == "done":
                result.update(payload)
            elif kind in ("evidence", "token", "retry", "retry_token"):
                on_event(kind, payload)
            kind, data = None, []
    if "answer" not in result or "timings" not in result:
        raise RagError("the server's answer stream ended early")
    result.setdefault("citations", [])
    return result
