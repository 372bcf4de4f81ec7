"""The chaos run's fault schedule: one seeded fault every few seconds, and the healing after.

Processes are broken with signals (SIGKILL of a service or of Postgres, SIGSTOP/SIGCONT of the
broker); the simulators through their fault plans and token expiry. What each fault injected is
read back from the simulators before the next plan replaces it, so the report can show it.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from devstack.supervisor import Stack

_SERVICES = ("ingest", "mapper", "poster")
_DELTEK_PLANS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("deltek 5xx", {"server_error_rate": 0.3}),
    ("deltek slow", {"latency_ms": 400}),
    ("deltek lost answers", {"lost_answer": {"after": 0, "count": 2}}),
    ("deltek 429 storm", {"throttle": {"after": 0, "count": 3, "every": 6}}),
)
_COUPA_PLANS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("coupa 429 burst", {"throttle": {"after": 0, "count": 5, "every": 10}}),
)


class FaultSchedule:
    """``run`` breaks something every ``every`` seconds; ``heal`` undoes what is still broken."""

    def __init__(self, stack: Stack, rng: random.Random, *, every: float) -> None:
        self._stack = stack
        self._rng = rng
        self._every = every
        self.done: Counter[str] = Counter()
        self._http: aiohttp.ClientSession | None = None
        self._actions: list[Callable[[], Awaitable[str]]] = [
            self._kill_service,
            self._kill_service,
            self._pause_broker,
            self._kill_postgres,
            self._deltek_plan,
            self._deltek_plan,
            self._expire_tokens,
            self._coupa_plan,
        ]

    async def run(self, seconds: float) -> None:
        self._http = aiohttp.ClientSession()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(self._every)
            action = self._rng.choice(self._actions)
            try:
                self.done[await action()] += 1
            except aiohttp.ClientError as exc:  # a simulator busy restarting its answer
                print(f"chaos: a fault could not be set: {exc}", flush=True)

    async def heal(self) -> None:
        """Clear both fault plans (counting what they injected) and close the session."""
        for system in ("coupa", "deltek"):
            await self._plan(system, {})
        if self._http is not None:
            await self._http.close()

    async def _kill_service(self) -> str:
        child = self._stack.child(self._rng.choice(_SERVICES))
        if child.proc is not None and child.proc.poll() is None:
            child.proc.send_signal(signal.SIGKILL)
        return f"SIGKILL {child.name}"

    async def _pause_broker(self) -> str:
        broker = self._stack.broker
        if broker is None or broker.proc is None:
            return "broker pause skipped (external broker)"
        os.kill(broker.proc.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(self._rng.uniform(2.0, 5.0))
        finally:
            os.kill(broker.proc.pid, signal.SIGCONT)
        return "broker paused (SIGSTOP/SIGCONT)"

    async def _kill_postgres(self) -> str:
        postgres = self._stack.postgres
        if postgres is None or postgres.proc is None:
            return "postgres kill skipped (external database)"
        postgres.proc.send_signal(signal.SIGKILL)
        return "SIGKILL postgres (restarted by the supervisor)"

    async def _deltek_plan(self) -> str:
        name, plan = self._rng.choice(_DELTEK_PLANS)
        await self._plan("deltek", plan)
        return name

    async def _coupa_plan(self) -> str:
        name, plan = self._rng.choice(_COUPA_PLANS)
        await self._plan("coupa", plan)
        return name

    async def _expire_tokens(self) -> str:
        system = self._rng.choice(("coupa", "deltek"))
        await self._post(f"{self._url(system)}/_admin/tokens/expire", None)
        return f"{system} tokens expired"

    async def _plan(self, system: str, plan: dict[str, Any]) -> None:
        """Replace a simulator's plan, first adding up what the old one injected."""
        assert self._http is not None
        async with self._http.get(f"{self._url(system)}/_admin/faults") as answer:
            snapshot = await answer.json()
        for kind, times in snapshot.get("injected", {}).items():
            self.done[f"{system} injected {kind}"] += times
        await self._post(f"{self._url(system)}/_admin/faults", plan)

    async def _post(self, url: str, body: dict[str, Any] | None) -> None:
        assert self._http is not None
        async with self._http.post(url, json=body) as answer:
            answer.raise_for_status()

    def _url(self, system: str) -> str:
        return self._stack.child(f"{system}-sim").url
