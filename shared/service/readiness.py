"""Readiness from a short-lived verdict, so a flood of ``/readyz`` cannot load the backends.

``/readyz`` is on the public port (ingest's takes Coupa's Call Outs), and each check queries
Postgres and asks the broker for metadata. A flood of probes therefore shares one check: callers
within ``ttl`` seconds of the last verdict get it as it is, and callers while a check runs wait
for that check rather than starting another.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

# What a check found per dependency: "ok", or "error: <kind>".
Verdict = dict[str, str]


class Readiness:
    """The last verdict of ``check``, reused for ``ttl`` seconds; at most one check in flight."""

    def __init__(self, check: Callable[[], Awaitable[Verdict]], ttl: float) -> None:
        self._check = check
        self._ttl = ttl
        self._verdict: Verdict | None = None
        self._checked_at = 0.0
        self._running: asyncio.Task[Verdict] | None = None

    async def verdict(self) -> Verdict:
        """The cached verdict while fresh, else the result of the one check now running."""
        if self._verdict is not None and time.monotonic() - self._checked_at < self._ttl:
            return self._verdict
        if self._running is None:
            self._running = asyncio.create_task(self._refresh())
        # Shielded: a prober that hangs up must not cancel the check the others are waiting on.
        return await asyncio.shield(self._running)

    async def _refresh(self) -> Verdict:
        try:
            verdict = await self._check()
        finally:
            self._running = None
        # Fresh from when the check ended, so checks never run closer together than ``ttl``.
        self._verdict, self._checked_at = verdict, time.monotonic()
        return verdict

    async def close(self) -> None:
        """Stop a check still running, before the pool and producer it uses are closed."""
        task = self._running
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
