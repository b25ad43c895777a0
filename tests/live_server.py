"""Serving in tests: the app under uvicorn in a thread on a free loopback port, for the tests that
need real HTTP (the `openai` client, a browser, `rag ask` forwarding), and the private copy of the
seed index a served app may change (uploads, removals)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx


@contextmanager
def live_server(
    make_app: Callable[[int], object], ready: Callable[[], bool] = lambda: True, timeout: float = 240
) -> Iterator[tuple[str, object]]:
    """Yields (base URL, app) once `/readyz` says ready and `ready()` holds; `make_app(port)` builds
    the app for the port it will listen on. Fails the test with the reason when loading fails."""
    import pytest
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # a free port, held from here on: no race with other processes
    port = sock.getsockname()[1]
    app = make_app(port)
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = httpx.get(f"{base}/readyz", timeout=2)
                if r.status_code == 200 and ready():
                    break
                if r.json().get("error"):
                    pytest.fail(f"the server could not load: {r.json()['error']}")
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not become ready")
            time.sleep(0.2)
        yield base, app
    finally:
        srv.should_exit = True
        thread.join(30)
        sock.close()


def private_index(seed_index, tmp_path_factory, name: str, **update):
    """Settings on a private copy of the seed index in a new folder named after `name`, with `update`."""
    index_dir = tmp_path_factory.mktemp(name) / "index"
    shutil.copytree(seed_index.index_dir, index_dir)
    return seed_index.model_copy(update={"index_dir": index_dir, **update})
