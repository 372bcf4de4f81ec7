"""The adaptive in-flight bound: grows while the API answers well, backs off when it does not."""

from __future__ import annotations

import asyncio

import pytest

from shared.http.adaptive import AdaptiveLimit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def answer(limit: AdaptiveLimit, clock: Clock, status: int, seconds: float = 0.1) -> None:
    async with limit.call() as call:
        clock.now += seconds
        call.status = status


async def test_it_starts_small_and_grows_to_the_ceiling_while_answers_are_healthy():
    clock = Clock()
    limit = AdaptiveLimit(16, clock=clock)
    assert limit.limit == 4
    for _ in range(40):
        await answer(limit, clock, 200)
    assert limit.limit == 16


async def test_a_429_or_5xx_halves_it_once_per_round_trip():
    clock = Clock()
    limit = AdaptiveLimit(16, clock=clock)
    for _ in range(40):
        await answer(limit, clock, 200)
    await answer(limit, clock, 429)
    assert limit.limit == 8
    # Failures of calls already in flight, within the same round trip: the same congestion.
    async with limit.call() as call:
        call.status = 503
    assert limit.limit == 8
    clock.now += 1.0
    await answer(limit, clock, 503)
    assert limit.limit == 4
    # After a decrease it grows by about one per round of calls, not by one per call.
    for _ in range(4):
        await answer(limit, clock, 200)
    assert limit.limit == 4
    await answer(limit, clock, 200)
    assert limit.limit == 5


async def test_a_call_that_failed_on_the_network_counts_as_congestion():
    clock = Clock()
    limit = AdaptiveLimit(16, clock=clock)
    for _ in range(40):
        await answer(limit, clock, 200)

    async def reset() -> None:
        async with limit.call():
            clock.now += 0.1
            raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        await reset()
    assert limit.limit == 8


async def test_rising_latency_eases_it_off():
    clock = Clock()
    limit = AdaptiveLimit(32, clock=clock)
    for _ in range(60):
        await answer(limit, clock, 200, seconds=0.1)
    assert limit.limit == 32
    for _ in range(10):
        clock.now += 1.0
        await answer(limit, clock, 200, seconds=0.6)
    assert limit.limit < 32


async def test_never_more_calls_in_flight_than_the_bound():
    limit = AdaptiveLimit(3)
    most = 0
    release = asyncio.Event()

    async def one() -> None:
        nonlocal most
        async with limit.call() as call:
            most = max(most, limit.in_use)
            await release.wait()
            call.status = 200

    tasks = [asyncio.create_task(one()) for _ in range(10)]
    await asyncio.sleep(0.05)
    assert limit.in_use == 3
    release.set()
    await asyncio.gather(*tasks)
    assert most == 3
    assert limit.in_use == 0
