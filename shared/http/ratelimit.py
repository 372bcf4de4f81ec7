"""An asyncio token bucket (rate per second, burst) that throttles clients and simulators."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` per second; one token per request.

    ``try_acquire`` never waits (a server deciding to answer 429); ``acquire`` waits its turn (a
    client staying under a published limit). The clock is injectable so tests need no sleeps.
    """

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_acquire(self) -> bool:
        """Take a token if one is available now."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_time(self) -> float:
        """Seconds until the next token will be available (0 when one is available now)."""
        self._refill()
        return max(0.0, (1.0 - self._tokens) / self.rate)

    async def acquire(self) -> None:
        """Wait until a token is available and take it; callers are served in arrival order."""
        async with self._lock:
            if not self.try_acquire():
                # One sleep suffices: we hold the lock, so nobody else takes the refilled token.
                await asyncio.sleep(self.wait_time())
                self._refill()
                self._tokens = max(0.0, self._tokens - 1.0)
