"""Service replicas and an LLM server as local processes: `rag serve` started with the settings of
a shared library, and llama-cpp-python's OpenAI-compatible server, each on a free loopback port.

Used by the replica tests and `eval/bench_cluster.py`, and a way to try a deployment on one
machine before spreading it over several (docs/deployment.md): each process here is what runs on
its own machine there, with the same settings.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from rag.errors import RagError
from rag.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, n: int = 800) -> str:
    try:
        return path.read_text(errors="replace")[-n:].strip()
    except OSError:
        return ""


@dataclass
class Process:
    """A server process started here, its port and its log file."""

    name: str
    port: int
    log: Path
    proc: subprocess.Popen = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """kill -9: what a crashed machine looks like to the others."""
        if self.alive:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self, timeout: float = 30) -> None:
        if self.alive:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait(self, path: str, timeout: float, ok=lambda r: r.status_code == 200) -> float:
        """Seconds until GET `path` satisfies `ok`; a RagError with the log's tail when the process
        stops or the time is up."""
        t0 = time.monotonic()
        while True:
            if not self.alive:
                raise RagError(f"{self.name} stopped (exit {self.proc.returncode}): {_tail(self.log)}")
            try:
                if ok(httpx.get(self.url + path, timeout=5)):
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            if time.monotonic() - t0 > timeout:
                raise RagError(f"{self.name} did not get ready in {timeout:.0f} s: {_tail(self.log)}")
            time.sleep(0.2)


def _start(name: str, argv: list[str], env: dict[str, str], port: int, folder: Path) -> Process:
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{name}.log"
    with log.open("ab") as fh:
        proc = subprocess.Popen(argv, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return Process(name, port, log, proc)


def shared_env(
    *, store_url: str, milvus_uri: str, index_dir: Path, llm_url: str | None = None, base: dict | None = None
) -> dict[str, str]:
    """The environment of a replica of a shared library: the servers it shares, and its own
    index folder (its keyword index, embedding cache and copies of uploaded files)."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "RAG_STORE__URL": store_url,
            "RAG_VECTORS__STORE": "milvus",
            "RAG_VECTORS__MILVUS_URI": milvus_uri,
            "RAG_INDEX_DIR": str(index_dir),
            "RAG_FORWARD_TO_SERVER": "false",
        }
    )
    if llm_url:
        env.update({"RAG_LLM__BACKEND": "openai", "RAG_LLM__BASE_URL": llm_url})
    return env


def start_replica(name: str, env: dict[str, str], folder: Path, port: int | None = None) -> Process:
    """`rag serve` on a loopback port (not yet ready: `wait("/readyz", ...)`)."""
    port = port or free_port()
    argv = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--log-level", "warning"]
    return _start(name, argv, env, port, folder)


def start_llm_server(model: Path, folder: Path, settings: Settings | None = None) -> Process:
    """llama-cpp-python's OpenAI-compatible server with one GGUF model (`/v1` under its URL), run as
    `rag.deploy.llm_server` runs it: with the in-process model's flags and prompt-prefix cache, and
    without one client's request cutting another's reply short."""
    from rag.deploy.llm_server import server_args

    port = free_port()
    argv = [sys.executable, "-m", "rag.deploy.llm_server", *server_args(settings or Settings(), model)]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--verbose", "false"]
    return _start("llm-server", argv, dict(os.environ), port, folder)
