"""A throw-away PostgreSQL server on loopback, for tests, benchmarks and trying a shared library on
one machine.

    from rag.deploy.postgres_server import PostgresLocal

    with PostgresLocal("/tmp/甲市-postgres") as pg:
        settings = Settings(store=StoreSettings(url=pg.url))   # postgresql://rag@127.0.0.1:<port>/rag
        ...

The server is Debian's PostgreSQL (``make services``: ``apt-get install postgresql``; the newest
version under ``/usr/lib/postgresql/`` is used). Its cluster lives in ``folder``: ``data/`` (made by
``initdb`` the first time, reused after), ``run/`` (the Unix socket) and ``postgres.log``. It listens
on a free port of 127.0.0.1 only and trusts every connection it accepts (loopback and its own
socket), so it is for one machine's tests and trials, never a deployment.

initdb and the server refuse to run as root: as root, they run as the ``postgres`` system user (made
by the Debian package) and the cluster's folders are its own. When that user cannot reach ``folder``
(pytest's temporary folders are private to root), the cluster lives in a private folder of the
system's temporary folder instead, removed when the server stops (its log is copied into ``folder``).

Stopping: `stop` (or leaving the ``with`` block, also on an error) stops the server with
``pg_ctl stop -m fast``; so does the end of the Python process (atexit). A process killed outright
leaves the server running: the next `start` on the same folder stops it first.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from rag.errors import RagError

POSTGRES_ROOT = Path("/usr/lib/postgresql")
NOT_INSTALLED = "PostgreSQL is not installed: run `make services` (apt-get install postgresql)"
SERVER_USER = "postgres"  # the system user Debian's package makes; the server runs as it under root

_HBA = """# A throw-away server (rag.deploy.postgres_server): trust on this machine only.
local all all trust
host all all 127.0.0.1/32 trust
"""


def find_bin_dir(root: Path | None = None) -> Path:
    """The newest installed version's bin folder (``/usr/lib/postgresql/<version>/bin``)."""
    found = []
    for bin_dir in (root or POSTGRES_ROOT).glob("*/bin"):
        try:
            version = tuple(int(part) for part in bin_dir.parent.name.split("."))
        except ValueError:
            continue
        if (bin_dir / "initdb").is_file() and (bin_dir / "pg_ctl").is_file():
            found.append((version, bin_dir))
    if not found:
        raise RagError(NOT_INSTALLED)
    return max(found)[1]


class PostgresLocal:
    """One PostgreSQL server: `start` it (or use ``with``), reach it at `url`, `stop` it.

    `database` is created when missing; `user` is the cluster's superuser (the name in `url`).
    `durable=False` (the default) runs without fsync: the data is thrown away anyway, a killed
    client or server still loses nothing committed (only a crash of the machine would), and a
    test suite's writes and the stop take a fraction of the time (a stop after a few dozen
    databases: ~1 s instead of ~15 s on a busy disk). Benchmarks that time commits as a deployment
    makes them pass `durable=True`. `options` are further server settings for this run."""

    def __init__(
        self,
        folder: Path | str,
        *,
        database: str = "rag",
        user: str = "rag",
        durable: bool = False,
        options: dict[str, str] | None = None,
        start_timeout: float = 60.0,
        bin_dir: Path | None = None,
    ):
        self.folder = Path(folder).absolute()
        self.database, self.user = database, user
        self.options = {"fsync": "on" if durable else "off", **(options or {})}
        self.start_timeout = start_timeout
        self.bin_dir = bin_dir
        self.port: int | None = None
        self._home: Path | None = None  # where the cluster lives: `folder`, or a private folder under root
        self._private = False
        self._owner = False  # this object started the server (and stops it)
        self._run_as = SERVER_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        """``postgresql://<user>@127.0.0.1:<port>/<database>`` (no password: the server trusts loopback)."""
        return self._url_for(self.database)

    @property
    def data_dir(self) -> Path:
        return self._cluster_home() / "data"

    @property
    def log_path(self) -> Path:
        return self._cluster_home() / "postgres.log"

    def __enter__(self) -> PostgresLocal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- starting and stopping ---------------------------------------------------------------------
    def start(self) -> PostgresLocal:
        """Make the cluster if it is new, start the server on a free port, wait until it accepts
        connections and create the database: a one-line RagError (with the log's tail) if it cannot."""
        if self.port is not None:
            return self
        self.bin_dir = self.bin_dir or find_bin_dir()
        if self._run_as is not None:
            try:
                pwd.getpwnam(self._run_as)
            except KeyError:
                raise RagError(
                    f"no `{self._run_as}` system user to run PostgreSQL as (it refuses root): run `make services`"
                ) from None
        self.folder.mkdir(parents=True, exist_ok=True)
        home = self._cluster_home()
        atexit.register(self.stop)
        try:
            if not (self.data_dir / "PG_VERSION").exists():
                self._init_cluster()
            self._stop_leftover()
            for attempt in range(3):  # a free port can be taken between picking it and binding it
                port = _free_port()
                self._write_settings(home, port)
                started = self._pg_ctl("start", "-w", "-t", str(int(self.start_timeout)), "-l", str(self.log_path))
                if started.returncode == 0:
                    self.port = port
                    break
                if "could not bind" not in self.log_tail(20) or attempt == 2:
                    raise RagError(
                        f"PostgreSQL did not start ({_one_line(started.stderr or started.stdout)}; "
                        f"log: {self.log_tail()})"
                    )
            self._wait_ready(time.monotonic() + self.start_timeout)
            self._create_database()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are closed, their transactions rolled back)."""
        atexit.unregister(self.stop)
        if self._home is None:
            return
        if self._owner:  # never a server this object did not start (another's, on the same folder)
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", "60")
            (self._home / "owner.pid").unlink(missing_ok=True)
            self._owner = False
        self.port = None
        if self._private:
            if self.log_path.exists():
                shutil.copyfile(self.log_path, self.folder / "postgres.log")
            shutil.rmtree(self._home, ignore_errors=True)
            self._home, self._private = None, False

    def log_tail(self, lines: int = 3) -> str:
        """The last lines of the server's log, on one line (for error messages)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "no log"
        return _one_line(" | ".join(text.strip().splitlines()[-lines:])) or "empty log"

    # --- the cluster ---------------------------------------------------------------------------------
    def _cluster_home(self) -> Path:
        """`folder`, or (under root, when the server's user cannot reach `folder`) a private folder."""
        if self._home is None:
            if self._run_as is None or self._reachable(self.folder):
                self._home = self.folder
            else:
                self._home = Path(tempfile.mkdtemp(prefix="rag-postgres-"))
                self._private = True
                self._own(self._home)
        return self._home

    def _init_cluster(self) -> None:
        data = self.data_dir
        shutil.rmtree(data, ignore_errors=True)  # a half-made cluster from an interrupted start
        data.mkdir(mode=0o700, parents=True)
        self._own(data)
        made = self._run(
            [
                str(self._bin("initdb")),
                "-D",
                str(data),
                "-U",
                self.user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "-N",
            ],
            timeout=300,
        )
        if made.returncode != 0:
            raise RagError(f"initdb failed in {data}: {_one_line(made.stderr or made.stdout)}")
        (data / "pg_hba.conf").write_text(_HBA, encoding="utf-8")
        with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\ninclude_if_exists = 'local.conf'  # written by every start: port, socket, options\n")

    def _write_settings(self, home: Path, port: int) -> None:
        run = home / "run"
        run.mkdir(mode=0o700, exist_ok=True)
        self._own(run)
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(run),
            **self.options,
        }
        local = self.data_dir / "local.conf"
        local.write_text("".join(f"{k} = '{_conf_quote(v)}'\n" for k, v in settings.items()), encoding="utf-8")
        self._own(local)
        if not self.log_path.exists():
            self.log_path.touch()
        self._own(self.log_path)

    def _stop_leftover(self) -> None:
        """A server left running on this folder by a process killed outright is stopped; one whose
        owner still runs is an error (two servers cannot share a cluster)."""
        owner_file = self._cluster_home() / "owner.pid"
        if (self.data_dir / "postmaster.pid").exists() and self._pg_ctl("status").returncode == 0:
            owner = _pid_in(owner_file)
            if owner is not None and _alive(owner):
                raise RagError(f"a PostgreSQL server already runs on {self.folder} (started by process {owner})")
            self._pg_ctl("stop", "-m", "immediate", "-w", "-t", "60")
        owner_file.write_text(str(os.getpid()), encoding="utf-8")
        self._owner = True

    def _wait_ready(self, deadline: float) -> None:
        import psycopg

        while True:
            try:
                psycopg.connect(self._admin_url(), connect_timeout=5).close()
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise RagError(
                        f"PostgreSQL on port {self.port} does not accept connections ({_one_line(str(exc))})"
                    ) from exc
                time.sleep(0.1)

    def create_database(self, name: str) -> str:
        """Another database on this server (created when missing), e.g. one per test; its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self._admin_url(), autocommit=True, connect_timeout=5) as db:
            if db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self._url_for(name)

    def _create_database(self) -> None:
        self.create_database(self.database)

    def _admin_url(self) -> str:
        return self._url_for("postgres")

    def _url_for(self, database: str) -> str:
        if self.port is None:
            raise RagError("the PostgreSQL server is not started")
        return f"postgresql://{quote(self.user, safe='')}@127.0.0.1:{self.port}/{quote(database, safe='')}"

    # --- running the binaries (as the server's user under root) ------------------------------------------
    def _bin(self, name: str) -> Path:
        assert self.bin_dir is not None
        return self.bin_dir / name

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess:
        return self._run([str(self._bin("pg_ctl")), "-D", str(self.data_dir), *args], timeout=self.start_timeout + 30)

    def _run(self, argv: list[str], *, timeout: float) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self._run_as, "--"] if self._run_as else []
        try:
            return subprocess.run(
                prefix + argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=self._cluster_home(),  # the server's user may not reach the caller's folder
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise RagError(f"{Path(argv[0]).name} {argv[-1]} took longer than {timeout:.0f} s") from exc

    def _reachable(self, folder: Path) -> bool:
        probe = subprocess.run(["runuser", "-u", str(self._run_as), "--", "test", "-x", str(folder)], check=False)
        return probe.returncode == 0

    def _own(self, path: Path) -> None:
        if self._run_as is not None:
            shutil.chown(path, self._run_as, self._run_as)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _conf_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "''")


def _one_line(text: str) -> str:
    return " ".join(text.split())
