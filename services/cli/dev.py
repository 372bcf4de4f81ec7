"""``connector dev``: the whole stack on the embedded default, each part its own process.

Order of start: Postgres, broker, migrations, topics, then the services. Order of stop is the
reverse, so services drain and commit while Postgres and the broker are still there. Every
child is tied to this process (see ``shared.embedded.process``): a SIGKILL of ``connector dev``
takes them all down with it. A service that exits on its own is restarted with backoff.
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
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import asyncpg

from services.cli.migrate_cmd import apply as apply_migrations
from shared.db.pool import init_connection
from shared.embedded.broker import EmbeddedBroker
from shared.embedded.postgres import EmbeddedPostgres
from shared.embedded.process import spawn, stop
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics, ensure_pipeline_topics
from shared.replay import UNFINISHED, Selection, plan, select, send
from shared.settings import Settings
from shared.stack import (
    DEFAULT_BROKER_PORT,
    DEFAULT_POSTGRES_PORT,
    Endpoints,
    pgdata_dir,
    remove_stack,
    running_stack,
    write_stack,
)

HEALTH_TIMEOUT = 60.0
_RESTART_BACKOFF_MAX = 30.0
_HINTS = {
    "service": "(/healthz /readyz /metrics)",
    "simulator": "(seeded; any client id and secret; /_admin/...)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ingest-port", type=int, default=8081)
    parser.add_argument("--mapper-port", type=int, default=8082)
    parser.add_argument("--poster-port", type=int, default=8083)
    parser.add_argument("--coupa-sim-port", type=int, default=8091)
    parser.add_argument("--deltek-sim-port", type=int, default=8092)
    parser.add_argument(
        "--no-sims", action="store_true", help="do not start the Coupa and Deltek simulators"
    )
    parser.add_argument("--postgres-port", type=int, default=DEFAULT_POSTGRES_PORT)
    parser.add_argument("--broker-port", type=int, default=DEFAULT_BROKER_PORT)


@dataclass
class Child:
    """One supervised service process and its restart bookkeeping."""

    name: str
    kind: str
    port: int
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    health_path: str
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = field(default=0.0)

    def start(self) -> None:
        self.proc = spawn(self.argv, log_path=self.log_path, env=self.env)


class _Stop(Exception):
    """Raised from the signal handler to leave the supervision loop."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _wait_healthy(children: list[Child], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(children)
    while pending and time.monotonic() < deadline:
        for child in list(pending):
            if child.proc is not None and child.proc.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited ({child.proc.returncode}); see {child.log_path}"
                )
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{child.port}{child.health_path}", timeout=1
                ) as answer:
                    if answer.status == 200:
                        pending.remove(child)
            except OSError:
                pass
        time.sleep(0.1)
    if pending:
        names = ", ".join(child.name for child in pending)
        raise TimeoutError(f"not healthy after {timeout:.0f}s: {names}")


def _supervise(children: list[Child]) -> None:
    """Restart any service that exits, with capped exponential backoff, until signalled."""
    while True:
        now = time.monotonic()
        for child in children:
            if child.proc is not None and child.proc.poll() is not None:
                code = child.proc.returncode
                child.proc = None
                child.restarts += 1
                delay = min(_RESTART_BACKOFF_MAX, 0.5 * 2 ** min(child.restarts, 10))
                child.next_start = now + delay
                print(
                    f"dev: {child.name} exited with {code}; restarting in {delay:.1f}s", flush=True
                )
            if child.proc is None and now >= child.next_start:
                child.start()
        time.sleep(0.2)


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    if running_stack(settings) is not None:
        print(
            f"dev: a stack already runs from {Path(settings.state_dir).resolve()}", file=sys.stderr
        )
        return 2
    # From here on a signal unwinds through the finally below, which stops everything started.
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    state = Path(settings.state_dir)
    logs = state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    postgres: EmbeddedPostgres | None = None
    broker: EmbeddedBroker | None = None
    children: list[Child] = []
    try:
        if settings.database_url is None:
            postgres = EmbeddedPostgres(pgdata_dir(settings), args.postgres_port)
            database_url = postgres.start()
        else:
            database_url = settings.database_url.get_secret_value()
        if settings.kafka_bootstrap is None:
            broker = EmbeddedBroker(args.broker_port, log_path=logs / "broker.log")
            bootstrap = broker.start()
        else:
            bootstrap = settings.kafka_bootstrap
        endpoints = Endpoints(database_url, bootstrap)
        asyncio.run(_prepare(settings, endpoints, fresh_broker=broker is not None))
        write_stack(settings, endpoints, os.getpid())
        children = _children(args, endpoints, logs)
        for child in children:
            child.start()
        _wait_healthy(children, HEALTH_TIMEOUT)
        _print_summary(endpoints, children, postgres, broker, logs)
        _supervise(children)
    except _Stop as reason:
        print(f"dev: {reason}, stopping", flush=True)
    finally:
        _shutdown(settings, children, broker, postgres)
    return 0


def _children(args: argparse.Namespace, endpoints: Endpoints, logs: Path) -> list[Child]:
    """The simulators (unless --no-sims) and the three services, as processes to supervise."""
    cli = [sys.executable, "-m", "services.cli"]
    children = []
    if not args.no_sims:
        for system, port in (("coupa", args.coupa_sim_port), ("deltek", args.deltek_sim_port)):
            argv = [*cli, "sim", system, "--port", str(port)]
            name = f"{system}-sim"
            children.append(
                Child(
                    name,
                    "simulator",
                    port,
                    argv,
                    dict(os.environ),
                    logs / f"{name}.log",
                    "/_admin/faults",
                )
            )
    services = {"ingest": args.ingest_port, "mapper": args.mapper_port, "poster": args.poster_port}
    for name, port in services.items():
        env = {
            **os.environ,
            "CONNECTOR_DATABASE_URL": endpoints.database_url,
            "CONNECTOR_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
            "CONNECTOR_HTTP_PORT": str(port),
        }
        children.append(
            Child(name, "service", port, [*cli, name], env, logs / f"{name}.log", "/healthz")
        )
    return children


async def _prepare(settings: Settings, endpoints: Endpoints, *, fresh_broker: bool) -> None:
    applied = await apply_migrations(endpoints.database_url)
    if applied:
        print(f"dev: migrations applied: {', '.join(applied)}", flush=True)
    await ensure_pipeline_topics(settings, endpoints.kafka_bootstrap)
    if fresh_broker:
        count = await republish_unfinished(settings, endpoints)
        if count:
            print(f"dev: re-published {count} unfinished record(s)", flush=True)


async def republish_unfinished(settings: Settings, endpoints: Endpoints) -> int:
    """Put back what the last run's in-memory broker held: records Postgres shows unfinished."""
    conn = await asyncpg.connect(endpoints.database_url)
    await init_connection(conn)
    publisher = Publisher(endpoints.kafka_bootstrap, settings.kafka)
    await publisher.start()
    try:
        replays = plan(
            await select(conn, Selection(states=UNFINISHED)), Topics(settings.kafka.topic_prefix)
        )
        await send(conn, publisher, replays, by="dev")
        return len(replays)
    finally:
        await publisher.stop()
        await conn.close()


def _print_summary(
    endpoints: Endpoints,
    children: list[Child],
    postgres: EmbeddedPostgres | None,
    broker: EmbeddedBroker | None,
    logs: Path,
) -> None:
    pg = "embedded" if postgres else "external"
    kafka = "embedded Tansu" if broker else "external"
    lines = [
        "connector dev is up:",
        f"  postgres   {pg:<15} {_without_password(endpoints.database_url)}",
        f"  kafka      {kafka:<15} {endpoints.kafka_bootstrap}",
    ]
    lines += [
        f"  {child.name:<10} {child.kind:<15} http://127.0.0.1:{child.port}  {_HINTS[child.kind]}"
        for child in children
    ]
    lines.append(f"  logs       {logs.resolve()}")
    lines.append("Ctrl-C stops everything.")
    print("\n".join(lines), flush=True)


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}@{host}"


def _shutdown(
    settings: Settings,
    children: list[Child],
    broker: EmbeddedBroker | None,
    postgres: EmbeddedPostgres | None,
) -> None:
    # A second Ctrl-C must not abort the orderly stop half-way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for child in children:
        if child.proc is not None:
            child.proc.send_signal(signal.SIGTERM)
    for child in children:
        if child.proc is not None:
            stop(child.proc, signal.SIGTERM, settings.shutdown_timeout_seconds)
    if broker is not None:
        broker.stop()
    if postgres is not None:
        postgres.stop()
    remove_stack(settings)
    print("dev: stopped", flush=True)
