"""How many wrong passwords the sign-in page takes, per user name and per client address.

A small in-process sliding window (``docs/decisions.md``): the console runs as one process, a
restart forgets the count (which costs an attacker a restart they cannot cause), and argon2's cost
per guess already makes each attempt slow.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

_PRUNE_ABOVE = 10_000


class SignInLimiter:
    """Refuses once a user name or an address has ``limit`` failures within ``window`` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, *keys: str) -> float:
        """Seconds until every one of ``keys`` may try again; 0 when all may now."""
        now = self._clock()
        waits = [0.0]
        for key in keys:
            failures = self._recent(key, now)
            if len(failures) >= self._limit:
                waits.append(failures[0] + self._window - now)
        return max(waits)

    def failed(self, *keys: str) -> None:
        now = self._clock()
        if len(self._failures) > _PRUNE_ABOVE:
            # A scan of made-up names must not grow the map without end.
            self._failures = {k: v for k, v in self._failures.items() if v[-1] > now - self._window}
        for key in keys:
            failures = self._recent(key, now)
            failures.append(now)
            self._failures[key] = failures

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        return failures
