"""The chaos run's fault schedule: one seeded fault every few seconds, and the healing after.

Processes are broken with signals (SIGKILL of a service or of Postgres, SIGSTOP/SIGCONT of the
broker); the simulators through their fault plans and token expiry. What each fault injected is
read back from the simulators before the next plan replaces it, so the report can show it.

With two posters or more, one of them is also SIGKILLed, from a third of the way in, while it
holds ledger leases (and so the jobs' advisory locks): the other posters must take over its jobs
without booking any twice, the case the random kills only hit by luck.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg

from devstack.supervisor import Child, Stack

# How often the mid-run poster kill looks whether its poster holds a lease yet.
_LEASE_POLL = 0.02
# Deltek's answer time while it looks (the real service's, as the benchmarks use).
_KILL_LATENCY_MS = 150
# How long after the faults the look goes on: each kill of a group member holds the group's
# rebalance up for a session timeout (10 s) on the embedded broker, so with kills every few
# seconds the victim may own no partition until the faults stop and the backlog drains.
_KILL_GRACE_SECONDS = 30.0
# What that look meets while the schedule has Postgres down or just restarted.
_DATABASE_DOWN: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
# A lease's owner is "host:pid:nonce" (``services.poster.app.owner_id``): the pid names the
# process, so the harness can tell which poster holds what.
_LEASES_OF_PID = """SELECT record_key FROM posting_ledger
                     WHERE owner LIKE '%:' || $1::text || ':%' AND lease_until > now()
                     ORDER BY record_key"""
_DELTEK_PLANS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("deltek 5xx", {"server_error_rate": 0.3}),
    ("deltek slow", {"latency_ms": 400}),
    ("deltek lost answers", {"lost_answer": {"after": 0, "count": 2}}),
    ("deltek 429 storm", {"throttle": {"after": 0, "count": 3, "every": 6}}),
)
_COUPA_PLANS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("coupa 429 burst", {"throttle": {"after": 0, "count": 5, "every": 10}}),
)


@dataclass(frozen=True, order=True)
class Fault:
    """One kind of fault as the report counts it: what was done, to which process, and a note."""

    what: str
    target: str = ""
    note: str = ""

    @property
    def action(self) -> str:
        """The fault without its target, for a line that already names the process."""
        return self._noted(self.what)

    def __str__(self) -> str:
        return self._noted(f"{self.what} {self.target}".rstrip())

    def _noted(self, text: str) -> str:
        return f"{text} ({self.note})" if self.note else text


class FaultSchedule:
    """``run`` breaks something every ``every`` seconds; ``heal`` undoes what is still broken."""

    def __init__(self, stack: Stack, rng: random.Random, *, every: float) -> None:
        self._stack = stack
        self._rng = rng
        self._every = every
        self.done: Counter[Fault] = Counter()
        posters = stack.posters()
        # The last poster started: a fixed choice, so the report of every seed names the same.
        self.victim: Child | None = posters[-1] if len(posters) > 1 else None
        self._http: aiohttp.ClientSession | None = None
        self._actions: list[Callable[[], Awaitable[Fault]]] = [
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
        """The random faults for ``seconds``, and the mid-run poster kill when there is a victim."""
        self._http = aiohttp.ClientSession()
        deadline = time.monotonic() + seconds
        async with asyncio.TaskGroup() as faults:
            faults.create_task(self._random_faults(deadline))
            if self.victim is not None:
                faults.create_task(self._kill_poster_mid_run(self.victim, seconds / 3, deadline))

    async def _random_faults(self, deadline: float) -> None:
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

    async def _kill_service(self) -> Fault:
        child = self._rng.choice(self._stack.services())
        if child.proc is not None and child.proc.poll() is None:
            child.proc.send_signal(signal.SIGKILL)
        return Fault("SIGKILL", child.name)

    async def _kill_poster_mid_run(self, poster: Child, delay: float, deadline: float) -> None:
        """After ``delay``, SIGKILL ``poster`` as soon as it holds a live ledger lease: during
        the faults, or while the backlog drains after them (``_KILL_GRACE_SECONDS``; then
        anyway, holding none)."""
        await asyncio.sleep(delay)
        held = await self._slow_deltek_and_look(poster, deadline)
        if not held:
            # The random faults end (the last one may land an interval late, and may have
            # replaced Deltek's latency): look on while the backlog drains.
            await asyncio.sleep(self._every)
            held = await self._slow_deltek_and_look(poster, deadline + _KILL_GRACE_SECONDS)
        proc = poster.proc
        if proc is None or proc.poll() is not None:
            self.done[Fault("SIGKILL skipped", poster.name, "mid-run: it was restarting")] += 1
            return
        proc.send_signal(signal.SIGKILL)
        # The records, so their takeover can be followed in the logs and the audit trail.
        print(f"chaos: SIGKILL {poster.name} holding {', '.join(held) or 'no lease'}", flush=True)
        note = f"mid-run, holding {len(held)} ledger lease(s)"
        self.done[Fault("SIGKILL", poster.name, note)] += 1

    async def _slow_deltek_and_look(self, poster: Child, deadline: float) -> list[str]:
        """Jobs take milliseconds against an instant simulator, so a lease is rarely seen live;
        Deltek answering like the real service keeps each job (and its lease) open long enough
        to be caught in the middle of one."""
        await self._plan("deltek", {"latency_ms": _KILL_LATENCY_MS})
        self.done[Fault("deltek slow", note="for the mid-run poster kill")] += 1
        return await self._live_leases(poster, deadline)

    async def _live_leases(self, poster: Child, deadline: float) -> list[str]:
        """The records ``poster`` holds a live lease on, asked until there is one or ``deadline``.

        Postgres may be down (the schedule kills it too): any error drops the connection, and
        the next ask opens another. After a SIGKILL of Postgres asyncpg may also leave the
        connection stuck ("another operation is in progress"), which a pool would hand out again.
        """
        assert self._stack.endpoints is not None
        url = self._stack.endpoints.database_url
        conn: asyncpg.Connection[asyncpg.Record] | None = None
        held: list[str] = []
        try:
            while not held and time.monotonic() < deadline:
                await asyncio.sleep(_LEASE_POLL)
                proc = poster.proc
                if proc is None or proc.poll() is not None:
                    continue
                try:
                    conn = conn or await asyncpg.connect(url)
                    rows = await conn.fetch(_LEASES_OF_PID, str(proc.pid))
                    held = [row["record_key"] for row in rows]
                except _DATABASE_DOWN:
                    if conn is not None:
                        conn.terminate()
                    conn = None
        finally:
            if conn is not None:
                conn.terminate()
        return held

    async def _pause_broker(self) -> Fault:
        broker = self._stack.broker
        if broker is None or broker.proc is None:
            return Fault("broker pause skipped", note="external broker")
        os.kill(broker.proc.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(self._rng.uniform(2.0, 5.0))
        finally:
            os.kill(broker.proc.pid, signal.SIGCONT)
        return Fault("broker paused", note="SIGSTOP/SIGCONT")

    async def _kill_postgres(self) -> Fault:
        postgres = self._stack.postgres
        if postgres is None or postgres.proc is None:
            return Fault("postgres kill skipped", note="external database")
        postgres.proc.send_signal(signal.SIGKILL)
        return Fault("SIGKILL", "postgres", "restarted by the supervisor")

    async def _deltek_plan(self) -> Fault:
        name, plan = self._rng.choice(_DELTEK_PLANS)
        await self._plan("deltek", plan)
        return Fault(name)

    async def _coupa_plan(self) -> Fault:
        name, plan = self._rng.choice(_COUPA_PLANS)
        await self._plan("coupa", plan)
        return Fault(name)

    async def _expire_tokens(self) -> Fault:
        system = self._rng.choice(("coupa", "deltek"))
        await self._post(f"{self._url(system)}/_admin/tokens/expire", None)
        return Fault(f"{system} tokens expired")

    async def _plan(self, system: str, plan: dict[str, Any]) -> None:
        """Replace a simulator's plan, first adding up what the old one injected."""
        assert self._http is not None
        async with self._http.get(f"{self._url(system)}/_admin/faults") as answer:
            snapshot = await answer.json()
        for kind, times in snapshot.get("injected", {}).items():
            self.done[Fault(f"{system} injected {kind}")] += times
        await self._post(f"{self._url(system)}/_admin/faults", plan)

    async def _post(self, url: str, body: dict[str, Any] | None) -> None:
        assert self._http is not None
        async with self._http.post(url, json=body) as answer:
            answer.raise_for_status()

    def _url(self, system: str) -> str:
        return self._stack.child(f"{system}-sim").url
