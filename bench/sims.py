"""The two simulators as the benchmarks use them: answering as slowly as the real services do,
counting every request, and a second pair of their own for the naive script.

Real latency is the simulators' fault plan (``POST /_admin/faults``): Deltek 150 ms and Coupa
100 ms per call. Coupa's 25 requests/s limit is the simulator's default and stays on throughout.
The second pair has the stack's seeds, so the stack's maps hold for it, pushes no Call Outs, and
keeps the naive script's vouchers and requests apart from the pipeline's.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.stats import by_endpoint
from devstack.supervisor import Stack
from shared.embedded.process import free_port, spawn, stop, wait_for_port

COUPA_LATENCY_MS = 100.0
DELTEK_LATENCY_MS = 150.0
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Sims:
    """A Coupa and a Deltek simulator by their base URLs (Deltek's API is under ``/api``)."""

    coupa: str
    deltek: str

    @classmethod
    def of(cls, stack: Stack) -> Sims:
        return cls(stack.child("coupa-sim").url, stack.child("deltek-sim").url)

    def _both(self) -> tuple[tuple[str, str, float], ...]:
        return (
            ("Coupa", self.coupa, COUPA_LATENCY_MS),
            ("Deltek", self.deltek, DELTEK_LATENCY_MS),
        )

    async def latency(self, http: aiohttp.ClientSession, *, real: bool) -> None:
        """Each API call answered after the real services' latency, or (not ``real``) at once."""
        for _, url, latency in self._both():
            plan = {"latency_ms": latency if real else 0.0}
            async with http.post(f"{url}/_admin/faults", json=plan) as answer:
                answer.raise_for_status()

    async def requests(self, http: aiohttp.ClientSession) -> dict[str, float]:
        """Every API request both answered so far, per endpoint: ``"Deltek POST /api/..."``."""
        counts: dict[str, float] = {}
        for api, url, _ in self._both():
            async with http.get(f"{url}/_admin/requests") as answer:
                answer.raise_for_status()
                log: dict[str, Any] = await answer.json()
            counts |= {f"{api} {name}": n for name, n in by_endpoint(log["counts"]).items()}
        return counts


@contextmanager
def sim_pair(logs: Path) -> Iterator[Sims]:
    """A Coupa and a Deltek simulator on free ports, logging into ``logs``; stopped on exit."""
    with ExitStack() as running:
        urls = []
        for system in ("coupa", "deltek"):
            port = free_port()
            argv = [sys.executable, "-m", "services.cli", "sim", system, "--port", str(port)]
            proc = spawn(argv, log_path=logs / f"naive-{system}-sim.log")
            running.callback(stop, proc, signal.SIGTERM, _STOP_TIMEOUT)
            wait_for_port("127.0.0.1", port, _START_TIMEOUT, proc)
            urls.append(f"http://127.0.0.1:{port}")
        yield Sims(*urls)
