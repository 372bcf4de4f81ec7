"""Pure logic of shared/http: backoff, Retry-After, retry loop, token bucket, offset paging."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from shared.http import (
    Backoff,
    FatalError,
    OffsetPaginator,
    PagingLoopError,
    RetriableError,
    RetryPolicy,
    TokenBucket,
    call_with_retries,
    classify_status,
    error_for_status,
    parse_retry_after,
)


def test_full_jitter_stays_within_the_capped_exponential_ceiling():
    backoff = Backoff(initial=0.1, maximum=1.0, rng=random.Random(1))
    for attempt, ceiling in [(0, 0.1), (1, 0.2), (3, 0.8), (4, 1.0), (30, 1.0)]:
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8, "full jitter uses the whole range"


def test_retry_after_wins_but_is_capped():
    backoff = Backoff(initial=0.1, maximum=1.0, retry_after_max=60)
    assert backoff.delay(0, retry_after=7.5) == 7.5
    assert backoff.delay(0, retry_after=3600) == 60


def test_parse_retry_after_seconds_and_http_date():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def test_status_classification():
    assert [classify_status(s) for s in (429, 500, 503, 408)] == [True] * 4
    assert [classify_status(s) for s in (400, 401, 403, 404, 422)] == [False] * 5
    assert isinstance(error_for_status(502, "x"), RetriableError)
    assert isinstance(error_for_status(400, "x"), FatalError)
    throttled = error_for_status(429, "x", retry_after=2)
    assert isinstance(throttled, RetriableError)
    assert throttled.retry_after == 2


async def test_retry_loop_retries_retriable_and_honours_retry_after():
    waits: list[float] = []
    outcomes = [RetriableError("busy", status=429, retry_after=4.0), RetriableError("down")]

    async def operation() -> str:
        if outcomes:
            raise outcomes.pop(0)
        return "ok"

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    policy = RetryPolicy(attempts=3, backoff=Backoff(initial=0.5, maximum=0.5))
    assert await call_with_retries(operation, policy, sleep=sleep) == "ok"
    assert waits[0] == 4.0
    assert 0 <= waits[1] <= 0.5


async def test_retry_loop_gives_up_and_never_retries_fatal():
    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        raise RetriableError("down")

    async def no_sleep(_: float) -> None:
        return None

    with pytest.raises(RetriableError):
        await call_with_retries(failing, RetryPolicy(attempts=3), sleep=no_sleep)
    assert calls == 3

    async def fatal() -> None:
        nonlocal calls
        calls += 1
        raise FatalError("bad request", status=400)

    calls = 0
    with pytest.raises(FatalError):
        await call_with_retries(fatal, RetryPolicy(attempts=3), sleep=no_sleep)
    assert calls == 1


def test_token_bucket_burst_then_refill():
    now = [0.0]
    bucket = TokenBucket(rate=25, burst=20, clock=lambda: now[0])
    assert [bucket.try_acquire() for _ in range(21)] == [True] * 20 + [False]
    assert bucket.wait_time() == pytest.approx(0.04)
    now[0] += 0.04
    assert bucket.try_acquire()
    assert not bucket.try_acquire()
    now[0] += 100
    assert sum(bucket.try_acquire() for _ in range(30)) == 20, "never more than the burst"


async def test_token_bucket_acquire_waits_for_a_token():
    bucket = TokenBucket(rate=200, burst=1)
    await bucket.acquire()
    await bucket.acquire()  # waits ~5 ms for the refill
    assert not bucket.try_acquire()


def test_token_bucket_rejects_nonsense():
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0, burst=1)


def test_offset_paginator_ends_on_short_page_and_detects_loops():
    pager = OffsetPaginator(limit=2)
    pager.advance([1, 2])
    assert (pager.offset, pager.has_more) == (2, True)
    pager.advance([3])
    assert (pager.offset, pager.has_more, pager.pages) == (3, False, 2)
    looping = OffsetPaginator(limit=2)
    looping.advance([1, 2])
    with pytest.raises(PagingLoopError):
        looping.advance([1, 2])
