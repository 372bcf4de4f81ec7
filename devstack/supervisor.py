"""The local stack ``connector dev`` and ``connector demo`` run: embedded servers, simulators,
the three services, each its own process.

Order of start: Postgres, broker, migrations, topics, the records a fresh in-memory broker lost,
then the simulators and services. Order of stop is the reverse, so services drain and commit
while Postgres and the broker are still there. Every child is tied to this process (see
``shared.embedded.process``): a SIGKILL of the supervisor takes them all down with it. A child
that exits on its own is restarted with backoff.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import asyncpg

from devstack import ports
from services.cli.dev_key import DEV_KEY_FILE
from services.cli.migrate_cmd import apply as apply_migrations
from shared.db.pool import init_connection
from shared.embedded.broker import EmbeddedBroker
from shared.embedded.postgres import EmbeddedPostgres
from shared.embedded.process import free_port, spawn
from shared.endpoints import (
    Endpoints,
    pgdata_dir,
    remove_stack,
    running_stack,
    write_stack,
)
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics, ensure_pipeline_topics
from shared.replay import UNFINISHED, Selection, plan, select, send
from shared.secrets import generate_callout_secret, generate_key, private_file
from shared.settings import Settings
from simulators.coupa.cli import COUPA_SIM_CALLOUT_SECRET

HEALTH_TIMEOUT = 60.0
SIM_CONNECTION = "sim"
_RESTART_BACKOFF_MAX = 30.0
_STABLE_SECONDS = 30.0
_HINTS = {
    "service": "(/healthz /readyz; metrics at {metrics})",
    "simulator": "(seeded; any client id and secret; /_admin/...)",
}


def add_arguments(parser: argparse.ArgumentParser, *, free_ports: bool = False) -> None:
    """The flags ``dev`` and ``demo`` share: every port (see ``ports.add_arguments``)."""
    ports.add_arguments(parser, free_ports=free_ports)


@dataclass
class Child:
    """One supervised process and its restart bookkeeping."""

    name: str
    kind: str
    port: int
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    health_path: str
    # A service's admin port, where its /metrics is: never on ``port``, which may be public.
    admin_port: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = field(default=0.0)
    started_at: float = field(default=0.0)

    def start(self) -> None:
        self.proc = spawn(self.argv, log_path=self.log_path, env=self.env)
        self.started_at = time.monotonic()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str | None:
        """A service's Prometheus endpoint; None for a simulator, which has none."""
        if self.admin_port is None:
            return None
        return f"http://127.0.0.1:{self.admin_port}/metrics"


class Watcher(Protocol):
    """Something the supervisor runs beside its tending (``connector dev``'s flow display)."""

    async def tick(self) -> None: ...

    async def close(self) -> None: ...


class StopRequested(Exception):
    """Raised from the signal handler to leave whatever the supervisor is doing."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise StopRequested(signal.Signals(signum).name)


class StackAlreadyRunningError(RuntimeError):
    """Another supervisor runs from the same folder."""


def secret_file(settings: Settings, name: str) -> str:
    """A secret generated once and kept under the state folder (mode 600), e.g. the dev key."""
    generate = generate_key if name == DEV_KEY_FILE else generate_callout_secret
    return private_file(Path(settings.state_dir) / name, generate)


class Stack:
    """Start with ``start()``, keep alive with ``supervise()``, always end with ``shutdown()``."""

    def __init__(
        self,
        args: argparse.Namespace,
        settings: Settings,
        *,
        sims: bool,
        more_ports: Mapping[str, str] | None = None,
    ) -> None:
        self.args = args
        # Ports of parts the caller starts itself (``dev``'s console), checked with the stack's.
        self.more_ports = dict(more_ports or {})
        self.settings = settings
        self.sims = sims
        self.logs = Path(settings.state_dir) / "logs"
        self.postgres: EmbeddedPostgres | None = None
        self.broker: EmbeddedBroker | None = None
        self.children: list[Child] = []
        self.endpoints: Endpoints | None = None
        self._wrote_state = False
        self._saved_handlers: dict[signal.Signals, Any] = {}
        # The key the services decrypt credentials with: the configured one, else a dev key.
        self.master_key = (
            settings.master_key.get_secret_value()
            if settings.master_key
            else secret_file(settings, DEV_KEY_FILE)
        )
        self.callout_secret = secret_file(settings, "sim-callout.secret")
        # The highest Coupa id the database holds: the Coupa simulator's new ids go above it.
        self.coupa_ids_above = 0

    def install_signal_handlers(self) -> None:
        """From here on a signal unwinds the caller through ``shutdown`` (which restores them)."""
        self._saved_handlers = {
            sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }

    def check(self) -> None:
        """Refuse, before anything starts, a folder a stack runs from or a port in use."""
        if running_stack(self.settings) is not None:
            raise StackAlreadyRunningError(
                f"a stack already runs from {Path(self.settings.state_dir).resolve()}"
            )
        ports.ensure_free(self.args, self.port_flags())

    def start(self) -> Endpoints:
        self.check()
        self.logs.mkdir(parents=True, exist_ok=True)
        settings, args = self.settings, self.args
        if settings.database_url is None:
            self.postgres = EmbeddedPostgres(pgdata_dir(settings), args.postgres_port)
            database_url = self.postgres.start()
        else:
            database_url = settings.database_url.get_secret_value()
        if settings.kafka_bootstrap is None:
            self.broker = EmbeddedBroker(args.broker_port, log_path=self.logs / "broker.log")
            bootstrap = self.broker.start()
        else:
            bootstrap = settings.kafka_bootstrap
        self.endpoints = Endpoints(database_url, bootstrap)
        asyncio.run(self._prepare(fresh_broker=self.broker is not None))
        write_stack(settings, self.endpoints, os.getpid())
        self._wrote_state = True
        self.children = self._children()
        for child in self.children:
            child.start()
        self._wait_healthy(HEALTH_TIMEOUT)
        return self.endpoints

    def port_flags(self) -> dict[str, str]:
        """The parts this stack will bind a port for, each with the dest of its port flag."""
        skipped = set()
        if not self.sims:
            skipped |= {"coupa-sim", "deltek-sim"}
        if self.settings.database_url is not None:
            skipped.add("postgres")
        if self.settings.kafka_bootstrap is not None:
            skipped.add("broker")
        parts = {part: dest for part, dest in ports.PORT_FLAGS.items() if part not in skipped}
        return {**parts, **self.more_ports}

    def child(self, name: str) -> Child:
        return next(child for child in self.children if child.name == name)

    def services(self) -> list[Child]:
        """The pipeline's processes in start order, every poster instance among them."""
        return [child for child in self.children if child.kind == "service"]

    def posters(self) -> list[Child]:
        """Every poster instance (``poster``, ``poster-2``, ...): one consumer group."""
        return [child for child in self.services() if child.name.partition("-")[0] == "poster"]

    async def _prepare(self, *, fresh_broker: bool) -> None:
        assert self.endpoints is not None
        applied = await apply_migrations(self.endpoints.database_url)
        if applied:
            print(f"migrations applied: {', '.join(applied)}", flush=True)
        if self.sims:
            self.coupa_ids_above = await highest_coupa_id(self.endpoints.database_url)
        await ensure_pipeline_topics(self.settings, self.endpoints.kafka_bootstrap)
        if fresh_broker:
            count = await self._republish_unfinished()
            if count:
                print(f"re-published {count} unfinished record(s)", flush=True)

    async def _republish_unfinished(self) -> int:
        """Put back what the last run's in-memory broker held: records Postgres shows unfinished."""
        assert self.endpoints is not None
        conn = await asyncpg.connect(self.endpoints.database_url)
        await init_connection(conn)
        publisher = Publisher(self.endpoints.kafka_bootstrap, self.settings.kafka)
        await publisher.start()
        try:
            rows = await select(conn, Selection(states=UNFINISHED))
            replays = plan(rows, Topics(self.settings.kafka.topic_prefix))
            await send(conn, publisher, replays, by="supervisor")
            return len(replays)
        finally:
            await publisher.stop()
            await conn.close()

    def _children(self) -> list[Child]:
        assert self.endpoints is not None
        args = self.args
        cli = [sys.executable, "-m", "services.cli"]
        base_env = {**os.environ, "CONNECTOR_MASTER_KEY": self.master_key}
        children = []
        if self.sims:
            callout = [
                f"--callout-url=http://127.0.0.1:{args.ingest_port}/coupa/{SIM_CONNECTION}",
                # Reseeded afresh, it must not hand out an id an earlier run's records hold.
                f"--ids-above={self.coupa_ids_above}",
            ]
            # The secret in the environment, not on the command line, where ps shows it.
            callout_env = {**base_env, COUPA_SIM_CALLOUT_SECRET: self.callout_secret}
            for system, port, extra, env in (
                ("coupa", args.coupa_sim_port, callout, callout_env),
                ("deltek", args.deltek_sim_port, [], base_env),
            ):
                name = f"{system}-sim"
                argv = [*cli, "sim", system, "--port", str(port), *extra]
                log = self.logs / f"{name}.log"
                children.append(Child(name, "simulator", port, argv, env, log, "/_admin/faults"))
        services = [
            ("ingest", "ingest", args.ingest_port),
            ("mapper", "mapper", args.mapper_port),
            ("poster", "poster", args.poster_port),
        ]
        # ``args.posters`` > 1 (benchmarks, chaos run) adds posters to the same consumer group.
        posters = getattr(args, "posters", 1)
        services += [(f"poster-{n}", "poster", free_port()) for n in range(2, posters + 1)]
        for name, command, port in services:
            # A free port each: throwaway stacks' HTTP ports are free ports too, so the service's
            # own default (HTTP port + 1000) could be taken.
            admin_port = free_port()
            env = {
                **base_env,
                "CONNECTOR_DATABASE_URL": self.endpoints.database_url,
                "CONNECTOR_KAFKA_BOOTSTRAP": self.endpoints.kafka_bootstrap,
                "CONNECTOR_HTTP_PORT": str(port),
                "CONNECTOR_ADMIN_PORT": str(admin_port),
            }
            if self.broker is not None:
                # Tansu 0.6 keeps a leader that leaves mid-rebalance (shared/kafka/group_exit.py).
                env["CONNECTOR_KAFKA__LEAVE_GROUP_ON_STOP"] = "false"
            log = self.logs / f"{name}.log"
            argv = [*cli, command]
            children.append(
                Child(name, "service", port, argv, env, log, "/healthz", admin_port=admin_port)
            )
        return children

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(self.children)
        while pending and time.monotonic() < deadline:
            for child in list(pending):
                if child.proc is not None and child.proc.poll() is not None:
                    raise RuntimeError(
                        f"{child.name} exited ({child.proc.returncode}): "
                        f"{last_line(child.log_path)} (see {child.log_path})"
                    )
                try:
                    with urllib.request.urlopen(  # noqa: S310 - our own loopback URL
                        f"{child.url}{child.health_path}", timeout=1
                    ) as answer:
                        if answer.status == 200:
                            pending.remove(child)
                except OSError:
                    pass
            time.sleep(0.1)
        if pending:
            names = ", ".join(child.name for child in pending)
            raise TimeoutError(f"not healthy after {timeout:.0f}s: {names}")

    def tend(self) -> None:
        """One round of supervision: restart, after a backoff, any child that exited.

        The embedded Postgres is restarted too (its data is on disk); the embedded broker is
        not, because its topics lived in memory: that needs a new ``connector dev``.
        """
        now = time.monotonic()
        postgres = self.postgres
        if postgres is not None and postgres.proc is not None and postgres.proc.poll() is not None:
            print("postgres exited; restarting it", flush=True)
            try:
                postgres.start()
            except (RuntimeError, TimeoutError) as exc:
                # Its old backends may still hold shared memory: the next round tries again.
                print(f"postgres did not start yet: {exc}", flush=True)
        for child in self.children:
            if child.proc is not None and child.proc.poll() is not None:
                code = child.proc.returncode
                child.proc = None
                # A child that ran a good while before it died starts the backoff afresh.
                if now - child.started_at > _STABLE_SECONDS:
                    child.restarts = 0
                child.restarts += 1
                delay = min(_RESTART_BACKOFF_MAX, 0.5 * 2 ** min(child.restarts, 10))
                child.next_start = now + delay
                print(f"{child.name} exited with {code}; restarting in {delay:.1f}s", flush=True)
            if child.proc is None and now >= child.next_start:
                child.start()

    def supervise(self, watcher: Watcher | None = None) -> None:
        """Tend the children, and let ``watcher`` tick each round, until a signal arrives."""
        loop = asyncio.new_event_loop()
        try:
            while True:
                self.tend()
                if watcher is not None:
                    loop.run_until_complete(watcher.tick())
                time.sleep(0.2)
        finally:
            if watcher is not None:
                loop.run_until_complete(watcher.close())
            loop.close()

    def summary(self) -> str:
        assert self.endpoints is not None
        pg = "embedded" if self.postgres else "external"
        kafka = "embedded Tansu" if self.broker else "external"
        lines = [
            f"  postgres   {pg:<15} {without_password(self.endpoints.database_url)}",
            f"  kafka      {kafka:<15} {self.endpoints.kafka_bootstrap}",
        ]
        lines += [
            f"  {child.name:<10} {child.kind:<15} {child.url}  "
            + _HINTS[child.kind].format(metrics=child.metrics_url)
            for child in self.children
        ]
        lines.append(f"  logs       {self.logs.resolve()}")
        return "\n".join(lines)

    def shutdown(self) -> None:
        # A second Ctrl-C must not abort the orderly stop half-way.
        current = {
            sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self._stop_everything()
        finally:
            for sig, handler in {**current, **self._saved_handlers}.items():
                signal.signal(sig, handler)

    def _stop_everything(self) -> None:
        # One SIGTERM each, then patience: a second one would cut a service's drain short.
        running = [child.proc for child in self.children if child.proc is not None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_timeout_seconds
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self._wrote_state:
            remove_stack(self.settings)


async def highest_coupa_id(database_url: str) -> int:
    """The highest Coupa id of the simulators' connection in the records and the PO store, 0
    for none: the simulators start from their seed each run, while Postgres keeps every run."""
    conn = await asyncpg.connect(database_url)
    try:
        highest = await conn.fetchval(
            """SELECT greatest(
                   (SELECT max(coupa_id::bigint) FROM records
                     WHERE connection = $1 AND coupa_id ~ '^[0-9]{1,18}$'),
                   (SELECT max(po_id) FROM coupa_purchase_orders WHERE connection = $1))""",
            SIM_CONNECTION,
        )
    finally:
        await conn.close()
    return int(highest or 0)


def last_line(log_path: Path) -> str:
    """The last line a child wrote (why it stopped, as a rule), or a note that there is none."""
    try:
        with log_path.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
            lines = log.read().decode(errors="replace").splitlines()
    except OSError:
        lines = []
    last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    return last[:300] or "it wrote nothing"


def without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}@{host}"
