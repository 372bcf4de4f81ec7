"""Capped exponential backoff with full jitter, ``Retry-After`` parsing and a generic retry loop."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from shared.http.errors import RetriableError

log = logging.getLogger(__name__)
T = TypeVar("T")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait per ``Retry-After`` (delta-seconds or HTTP-date); None if absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class Backoff:
    """Full-jitter backoff: attempt n waits uniform(0, min(maximum, initial * multiplier**n)).

    Full jitter spreads many clients that failed together (AWS architecture blog's finding), and
    a server's ``Retry-After`` wins over our own guess because the server knows when it recovers;
    it is still capped so that a hostile or broken header cannot park a worker for hours.
    """

    initial: float = 0.2
    maximum: float = 30.0
    multiplier: float = 2.0
    retry_after_max: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before retry number ``attempt`` (0-based)."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.retry_after_max)
        ceiling = min(self.maximum, self.initial * self.multiplier ** max(0, attempt))
        return self.rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to try a retriable operation and how long to wait in between."""

    attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)


async def call_with_retries(
    operation: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``operation``, retrying only on RetriableError; the last error propagates unchanged.

    Fatal errors pass straight through: retrying them would only repeat the failure.
    """
    attempt = 0
    while True:
        try:
            return await operation()
        except RetriableError as exc:
            attempt += 1
            if attempt >= policy.attempts:
                raise
            wait = policy.backoff.delay(attempt - 1, exc.retry_after)
            log.info(
                "retrying after retriable error",
                extra={"attempt": attempt, "wait_seconds": round(wait, 3), "error": str(exc)},
            )
            await sleep(wait)
