"""``connector dev`` as a user runs it: everything up, invoices consumed, nothing left behind.

The stack runs as real processes (embedded Postgres, Tansu, three services) on free ports in a
temporary folder, started through the console command's module.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import asyncpg
import psutil
import pytest

from shared.embedded.process import free_port
from shared.kafka.producer import Publisher
from shared.settings import KafkaTuning
from tests.support import eventually, invoice_event

pytestmark = pytest.mark.e2e

SERVICES = ("ingest", "mapper", "poster", "console")
SIMULATORS = ("coupa-sim", "deltek-sim")


class DevStack:
    """One ``connector dev`` process and the ports it was told to use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ports = {name: free_port() for name in (*SERVICES, *SIMULATORS, "postgres", "broker")}
        self.proc: subprocess.Popen[bytes] | None = None
        self.out = folder / "dev.out"

    def start(self) -> None:
        argv = [sys.executable, "-m", "services.cli", "dev"]
        argv += [f"--{name}-port={port}" for name, port in self.ports.items()]
        self.out.write_bytes(b"")
        self.proc = subprocess.Popen(
            argv,
            cwd=self.folder,
            stdout=self.out.open("ab"),
            stderr=subprocess.STDOUT,
            env={
                k: v for k, v in __import__("os").environ.items() if not k.startswith("CONNECTOR_")
            },
        )

    async def wait_up(self, within: float = 60.0) -> float:
        started = time.monotonic()

        async def announced() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.out.read_text()
            return "connector dev is up" in self.out.read_text()

        await eventually(announced, within=within, what="connector dev start")
        return time.monotonic() - started

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.ports['postgres']}/connector"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['broker']}"

    def tree(self) -> list[psutil.Process]:
        assert self.proc is not None
        return psutil.Process(self.proc.pid).children(recursive=True)


def healthz(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
        return int(answer.status)


def alive(processes: list[psutil.Process]) -> list[str]:
    """Those still running (zombies waiting to be reaped by init do not count)."""
    found = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                found.append(
                    f"{process.pid} {process.status()} {' '.join(process.cmdline())[:120]}"
                )
        except psutil.NoSuchProcess:
            continue
    return found


async def count_records(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM records"))
    finally:
        await conn.close()


async def wait_gone(processes: list[psutil.Process], within: float) -> None:
    async def check() -> bool:
        return not alive(processes)

    try:
        await eventually(check, within=within, what="every child process exiting")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still running: {alive(processes)}") from None


async def test_dev_runs_everything_consumes_and_stops_cleanly_even_when_killed(tmp_path):
    stack = DevStack(tmp_path)
    stack.start()
    try:
        seconds = await stack.wait_up()
        assert seconds < 60
        assert all(healthz(stack.ports[name]) == 200 for name in SERVICES)
        out = stack.out.read_text()
        for name in (*SERVICES, *SIMULATORS):
            assert f"http://127.0.0.1:{stack.ports[name]}" in out
        children = stack.tree()
        names = " ".join(" ".join(p.cmdline()) for p in children)
        assert "postgres" in names and "tansu" in names
        assert all(f"services.cli {name}" in names for name in SERVICES)
        assert "services.cli sim coupa" in names and "services.cli sim deltek" in names

        publisher = Publisher(stack.bootstrap, KafkaTuning())
        await publisher.start()
        try:
            await publisher.publish("coupa.invoices", invoice_event("acme", 501))
        finally:
            await publisher.stop()

        async def stored() -> bool:
            return await count_records(stack.database_url) == 1

        await eventually(stored, within=60, what="the mapper storing the invoice")

        # SIGTERM (what Ctrl-C and Kubernetes send): orderly stop, exit 0, nothing left.
        assert stack.proc is not None
        stack.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(stack.proc.wait, 90) == 0
        await wait_gone(children, 30)
        assert "dev: stopped" in stack.out.read_text()

        # A second start finds the first one's data; then SIGKILL of the parent.
        stack.start()
        await stack.wait_up()
        assert await count_records(stack.database_url) == 1
        children = stack.tree()
        stack.proc.kill()
        stack.proc.wait(10)
        await wait_gone(children, 30)
    finally:
        if stack.proc is not None and stack.proc.poll() is None:
            stack.proc.kill()
