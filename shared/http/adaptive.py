"""How many calls to one API may be in flight at once, adapted to how the API answers.

A fixed number is wrong both ways: too low and a poster with many invoices in hand waits on
itself, too high and a tenant that is struggling gets hammered harder. So the bound moves like
TCP's congestion window (additive increase, multiplicative decrease): it starts small and
doubles while calls come back healthy (slow start), then grows by one per round of calls; a
429, a 5xx or a call that failed on the network halves it, and a latency well above what the
API usually answers in (its queue is building up) shrinks it by a tenth. A decrease happens
at most once per round trip, so a burst of failures from calls that were already in flight
counts as one signal. The bound never leaves ``[1, ceiling]``; ``ceiling`` is the operator's
setting for what the tenant may take.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

_BACKOFF = 0.5
_EASE = 0.9
# A call slower than this many times the usual answer time means the API is queueing.
_SLOW_FACTOR = 2.0
# Answer times are smoothed quickly for "now" and slowly for "usual".
_RECENT_WEIGHT = 0.2
_USUAL_WEIGHT = 0.02
# Latency says nothing until the usual answer time has been seen a few times.
_WARM_UP_CALLS = 20
_INITIAL = 4


@dataclass
class Call:
    """One call through a slot: the caller sets ``status`` once the API answered."""

    status: int | None = None


class AdaptiveLimit:
    """``async with limit.call() as call: ...; call.status = answer.status``."""

    def __init__(self, ceiling: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if ceiling < 1:
            raise ValueError("ceiling must be at least 1")
        self.ceiling = ceiling
        self._clock = clock
        self._limit = float(min(_INITIAL, ceiling))
        self._slow_start = True
        self._in_use = 0
        self._room = asyncio.Condition()
        self._recent: float | None = None
        self._usual: float | None = None
        self._answered = 0
        self._last_decrease = float("-inf")

    @property
    def limit(self) -> int:
        """Calls allowed in flight now."""
        return max(1, int(self._limit))

    @property
    def in_use(self) -> int:
        return self._in_use

    @asynccontextmanager
    async def call(self) -> AsyncIterator[Call]:
        """Wait for room, then hold a slot for one call; how it ended moves the bound."""
        async with self._room:
            await self._room.wait_for(lambda: self._in_use < self.limit)
            self._in_use += 1
        started = self._clock()
        call = Call()
        congested = True  # a call that raised (network, timeout) counts against the API
        try:
            yield call
            congested = call.status is not None and (call.status == 429 or call.status >= 500)
        finally:
            self._observe(congested, self._clock() - started)
            async with self._room:
                self._in_use -= 1
                self._room.notify_all()

    def _observe(self, congested: bool, seconds: float) -> None:
        if congested:
            self._decrease(_BACKOFF)
            return
        self._answered += 1
        self._recent = _smooth(self._recent, seconds, _RECENT_WEIGHT)
        self._usual = _smooth(self._usual, seconds, _USUAL_WEIGHT)
        if self._answered > _WARM_UP_CALLS and self._recent > _SLOW_FACTOR * self._usual:
            self._decrease(_EASE)
        elif self._slow_start:
            self._limit = min(self.ceiling, self._limit + 1)
        else:
            self._limit = min(self.ceiling, self._limit + 1 / self._limit)

    def _decrease(self, factor: float) -> None:
        now = self._clock()
        if now - self._last_decrease < (self._recent or 0.0):
            return  # the same congestion, seen again by calls that were already in flight
        self._last_decrease = now
        self._slow_start = False
        self._limit = max(1.0, self._limit * factor)


def _smooth(previous: float | None, sample: float, weight: float) -> float:
    return sample if previous is None else previous + weight * (sample - previous)
