"""A throw-away Milvus standalone server on loopback, for tests, benchmarks and trying a deployment
on one machine.

    from rag.deploy.milvus_server import MilvusLocal

    with MilvusLocal("/tmp/甲市-milvus") as milvus:
        settings = Settings(vectors=VectorSettings(store="milvus", milvus_uri=milvus.uri))
        ...

The server is the real Milvus standalone binary (with its embedded etcd and RocksMQ) that the PyPI
package ``milvus`` ships; on Linux x86-64 its newest build is 2.3.5 (``pip install milvus==2.3.5``,
in the ``test`` extra). The package's binaries are unpacked once into a cache folder
(``~/.cache/gov-report-rag/milvus-<version>``, ~250 MB), and every server then
runs from there with its configuration, logs and data under ``data_dir``
(``configs/``, ``logs/``, ``data/``).

Ports: twelve, all picked free on 127.0.0.1 at start — the proxy (the one clients use, in `uri`),
the embedded etcd's client and peer ports, the metrics/health port and the internal ports of the
coordinators and nodes — so several servers (and a Milvus on the default ports) can run side by side.
The embedded etcd listens on 127.0.0.1 and the components advertise 127.0.0.1 to each other; the
gRPC servers of Milvus 2.3 themselves bind every interface, so this is for one machine's tests and
trials, never a deployment. A restart on the same ``data_dir`` takes the previous ports again when
they are free (its etcd still lists the components at those addresses; on new ports a restart waits
~50 s for the old entries to expire).

Start, measured on two cores: ~3.5 s with the binaries cached, ~9 s for a restart on a folder with
data, plus ~6 s the first time the binaries are unpacked.

Stopping: `stop` (or leaving the ``with`` block, also on an error, or the end of the Python process)
sends SIGTERM and waits, then SIGKILL. Milvus 2.3.5 ends a clean stop with a panic closing its
embedded etcd client (exit status -6, after "All cleanup done" in its log): harmless. If the Python
process that started the server dies without stopping it (killed, crashed), the kernel sends the
server SIGKILL (``PR_SET_PDEATHSIG``), so no server outlives its owner. That signal follows the
*thread* that started the server: start it from a thread that lives as long as the server is needed
(the main thread, a pytest fixture).
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from rag.errors import RagError

# the template's port keys, one free port each (etcd_port is the embedded etcd's client port)
_PORT_KEYS = (
    "etcd_port",
    "root_coord_port",
    "proxy_port",
    "proxy_internal_port",
    "query_coord_port",
    "query_node_port",
    "index_coord_port",
    "index_node_port",
    "data_coord_port",
    "data_node_port",
)
_EXTRA_PORTS = ("etcd_peer_port", "metrics_port")  # not in the template: the etcd file, an environment variable
_PLACEHOLDER = re.compile(r"\{\{([^}]*)\}\}")
_PR_SET_PDEATHSIG = 1


class MilvusLocal:
    """One Milvus standalone server: `start` it (or use ``with``), reach it at `uri`, `stop` it.

    `data_dir` holds its configuration, logs and data (created if missing; nothing is removed).
    `config` sets values of the Milvus configuration by dotted key (e.g.
    ``{"queryNode.segcore.interimIndex.enableIndex": "false"}``); a key the configuration file
    does not have is an error. `cache_dir` is where the binaries are unpacked (shared by servers)."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        start_timeout: float = 180.0,
        stop_timeout: float = 30.0,
        config: dict[str, str] | None = None,
        cache_dir: Path | str | None = None,
    ):
        self.data_dir = Path(data_dir).resolve()
        self.start_timeout, self.stop_timeout = start_timeout, stop_timeout
        self.config = dict(config or {})
        self._cache_dir = Path(cache_dir) if cache_dir else None
        self.ports: dict[str, int] = {}
        self._logs: list = []
        self.proc: subprocess.Popen | None = None
        self.start_s: float | None = None  # seconds the last start took (until the server answered)

    # --- the public surface -------------------------------------------------------------------

    @property
    def uri(self) -> str:
        """Where clients reach the server: ``http://127.0.0.1:<proxy port>``."""
        if not self.ports:
            raise RagError("the Milvus server is not started")
        return f"http://127.0.0.1:{self.ports['proxy_port']}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def version(self) -> str:
        return _package().__version__

    def __enter__(self) -> MilvusLocal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> MilvusLocal:
        """Start the server and wait until it answers (a RagError, with the log's tail, if it does
        not within `start_timeout`). A port taken between choosing it and binding it means another try."""
        if self.running:
            return self
        t0 = time.perf_counter()
        binary = self._binaries()
        for attempt in range(3):
            self._launch(binary, fresh_ports=attempt > 0)
            try:
                self._wait_ready(t0 + self.start_timeout)
            except RagError:
                lost_port = "address already in use" in self.log_tail(200)
                self.stop()
                if lost_port and attempt < 2:
                    continue
                raise
            self.start_s = time.perf_counter() - t0
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """SIGTERM, up to `stop_timeout` for a clean exit, then SIGKILL. Idempotent."""
        proc, self.proc = self.proc, None
        atexit.unregister(self.stop)
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        for fh in self._logs:
            fh.close()
        self._logs = []
        for run_dir in ("/run/milvus", "/tmp/milvus"):  # the pid file Milvus 2.3 keeps there, named after the alias
            Path(run_dir, f"standalone-{self._alias()}.pid").unlink(missing_ok=True)

    def rss_bytes(self) -> int:
        """The server process's resident memory (0 when it is not running)."""
        return self._status_bytes("VmRSS")

    def peak_rss_bytes(self) -> int:
        return self._status_bytes("VmHWM")

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the server's output (stderr, then its main log), for error messages."""
        out: list[str] = []
        for name in ("milvus-stderr.log", "milvus-stdout.log"):
            path = self.data_dir / "logs" / name
            if path.exists():
                with path.open("rb") as fh:
                    fh.seek(max(0, path.stat().st_size - 64 * 1024))
                    out += [ln for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        return "\n".join(out[-lines:])

    # --- the steps ----------------------------------------------------------------------------

    def cache_dir(self) -> Path:
        if self._cache_dir is not None:
            return self._cache_dir
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return base / "gov-report-rag" / f"milvus-{self.version}"

    def _binaries(self) -> Path:
        """The server binary, unpacked once into the cache folder (under a lock: servers started at
        the same time by other processes wait, then find it unpacked)."""
        pkg = _package()
        cache = self.cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        with (cache / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            pkg._initialize_data_files(str(cache))  # unpacks what is missing or changed (checked by md5)
        binary = cache / "bin" / "milvus"
        if not binary.exists():
            raise RagError(f"the milvus package did not unpack its server into {cache}")
        return binary

    def _launch(self, binary: Path, fresh_ports: bool) -> None:
        configs, logs, data = (self.data_dir / d for d in ("configs", "logs", "data"))
        for d in (configs, logs, data):
            d.mkdir(parents=True, exist_ok=True)
        self.ports = self._choose_ports(configs / "ports.json", fresh_ports)
        package_data = Path(_package().__file__).parent / "data"
        shutil.copy(package_data / "glog.conf", configs / "glog.conf")
        etcd_peer, metrics = self.ports["etcd_peer_port"], self.ports["metrics_port"]
        (configs / "etcd.yaml").write_text(
            "\n".join(
                [
                    f"listen-client-urls: http://127.0.0.1:{self.ports['etcd_port']}",
                    f"advertise-client-urls: http://127.0.0.1:{self.ports['etcd_port']}",
                    f"listen-peer-urls: http://127.0.0.1:{etcd_peer}",
                    f"initial-advertise-peer-urls: http://127.0.0.1:{etcd_peer}",
                    f"initial-cluster: default=http://127.0.0.1:{etcd_peer}",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        values = {k: str(self.ports[k]) for k in _PORT_KEYS} | {
            "etcd_log_path": str(logs / "etcd.log"),
            "system_log_path": str(logs),
            "etcd_data_dir": str(data / "etcd.data"),
            "local_storage_dir": str(data),
            "rocksmq_data_dir": str(data / "rocksmq"),
        }
        text = render(
            (package_data / "config.yaml.template").read_text(encoding="utf-8"),
            values,
            {
                "etcd.config.path": str(configs / "etcd.yaml"),
                # a throw-away server: a stop does not wait out the default half hour
                "common.gracefulStopTimeout": "10",
                **self.config,
            },
        )
        (configs / "milvus.yaml").write_text(text, encoding="utf-8")
        env = {
            **os.environ,
            "DEPLOY_MODE": "STANDALONE",
            "METRICS_PORT": str(metrics),
            "MILVUSCONF": str(configs),
            "MILVUS_RUN_DIR": str(self.data_dir / "run"),
            "LD_LIBRARY_PATH": ":".join(p for p in (str(binary.parent), os.environ.get("LD_LIBRARY_PATH")) if p),
        }
        self._logs = [(logs / name).open("w", encoding="utf-8") for name in ("milvus-stdout.log", "milvus-stderr.log")]
        owner = os.getpid()
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork

        def die_with_owner() -> None:  # runs in the child between fork and exec
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != owner:  # the owner died before the line above took effect
                os._exit(1)

        self.proc = subprocess.Popen(
            [str(binary), "run", "standalone", "-alias", self._alias()],
            cwd=self.data_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._logs[0],
            stderr=self._logs[1],
            preexec_fn=die_with_owner,  # noqa: PLW1509 - no threads touch the child before exec
            start_new_session=True,  # a Ctrl-C in the terminal reaches the owner, which stops it cleanly
        )
        atexit.register(self.stop)

    def _choose_ports(self, saved: Path, fresh: bool) -> dict[str, int]:
        """The ports of the previous start on this data folder when all are free (the embedded etcd
        still lists the previous run's components at their addresses, and a restart on new ports waits
        ~50 s for those entries to expire), else new free ones; written to `saved`."""
        names = _PORT_KEYS + _EXTRA_PORTS
        ports: dict[str, int] = {}
        if not fresh and saved.exists():
            try:
                old = {k: int(v) for k, v in json.loads(saved.read_text(encoding="utf-8")).items()}
            except (ValueError, AttributeError):
                old = {}
            if set(old) == set(names) and all(_port_free(p) for p in old.values()):
                ports = old
        if not ports:
            ports = dict(zip(names, _free_ports(len(names))))
        saved.write_text(json.dumps(ports), encoding="utf-8")
        return ports

    def _alias(self) -> str:
        """Names the server's pid file (/run/milvus/standalone-<alias>.pid): one per server, so
        several can run at once (without an alias the second finds the first's file locked)."""
        return f"rag{self.ports.get('proxy_port', 0)}"

    def _wait_ready(self, deadline: float) -> None:
        """Until the health endpoint says OK and a client lists the collections."""
        health = f"http://127.0.0.1:{self.ports['metrics_port']}/healthz"
        healthy = False
        while time.perf_counter() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = self.proc.returncode if self.proc is not None else None
                raise RagError(
                    f"the Milvus server exited while starting (exit code {code}): {_one_line(self.log_tail())} "
                    f"(logs in {self.data_dir / 'logs'})"
                )
            try:
                if not healthy:
                    with urllib.request.urlopen(health, timeout=2) as resp:
                        healthy = b"OK" in resp.read()
                if healthy:
                    self._client_check()
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.2)
        raise RagError(
            f"the Milvus server did not answer within {self.start_timeout:.0f} s: {_one_line(self.log_tail())} "
            f"(logs in {self.data_dir / 'logs'})"
        )

    def _client_check(self) -> None:
        from pymilvus import MilvusClient

        client = MilvusClient(uri=self.uri, timeout=5)
        try:
            client.list_collections()
        finally:
            client.close()

    def _status_bytes(self, field: str) -> int:
        if not self.running or self.proc is None:
            return 0
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        found = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
        return int(found.group(1)) * 1024 if found else 0


def render(template: str, values: dict[str, str], overrides: dict[str, str]) -> str:
    """The Milvus configuration from the package's template: ``{{ key(type): default }}`` filled
    from `values` (else the default), the components' ``ip`` pinned to loopback, and `overrides`
    (dotted keys of the YAML) set in place; a missing placeholder value or override key is an error."""

    def fill(m: re.Match) -> str:
        key, _, default = m.group(1).partition(":")
        key = key.split("(")[0].strip()
        if key in values:
            return values[key]
        if not default.strip():
            raise RagError(f"the Milvus configuration template needs a value for {key}")
        return default.strip()

    out: list[str] = []
    path: list[str] = []
    done: set[str] = set()
    for line in _PLACEHOLDER.sub(fill, template).splitlines():
        m = re.match(r"^( *)([A-Za-z0-9_]+):(.*)$", line)
        if m and not line.lstrip().startswith("#"):
            indent, key, rest = len(m.group(1)), m.group(2), m.group(3)
            path = path[: indent // 2] + [key]
            dotted = ".".join(path)
            if dotted in overrides:
                line = f"{m.group(1)}{key}: {overrides[dotted]}"
                done.add(dotted)
            elif key == "ip" and indent == 2 and not rest.split("#")[0].strip():
                line = f"{m.group(1)}ip: 127.0.0.1"  # advertise loopback, not the first network address
        out.append(line)
    missing = set(overrides) - done
    if "etcd.config.path" in missing:  # not in the template: a new block under etcd
        out = _insert_under(out, "etcd", ["  config:", f"    path: {overrides['etcd.config.path']}"])
        missing.discard("etcd.config.path")
    if missing:
        raise RagError(f"the Milvus configuration has no key {', '.join(sorted(missing))}")
    return "\n".join(out) + "\n"


def _insert_under(lines: list[str], section: str, block: list[str]) -> list[str]:
    at = lines.index(f"{section}:") + 1
    return lines[:at] + block + lines[at:]


def _free_ports(n: int) -> list[int]:
    """`n` distinct loopback ports free now (each held until all are chosen, so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server's listeners: TIME_WAIT is free
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _one_line(text: str) -> str:
    return " | ".join(ln.strip()[-300:] for ln in text.splitlines() if ln.strip()) or "(no output)"


def _package():
    try:
        import milvus
    except ImportError as exc:
        raise RagError(
            "a local Milvus server needs the milvus package (pip install milvus==2.3.5, in the test extra)"
        ) from exc
    return milvus
