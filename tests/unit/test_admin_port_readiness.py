"""The readiness verdict behind the public /readyz: shared by concurrent probes, kept for its
period, refreshed after it, and never cancelled by a prober that hangs up."""

from __future__ import annotations

import asyncio

from shared.service.readiness import Readiness, Verdict


class Backends:
    """A check that counts its runs and answers once ``release`` is set."""

    def __init__(self) -> None:
        self.runs = 0
        self.release = asyncio.Event()
        self.answer: Verdict = {"postgres": "ok", "kafka": "ok"}

    async def check(self) -> Verdict:
        self.runs += 1
        await self.release.wait()
        return dict(self.answer)


async def test_concurrent_probes_share_one_check_and_its_verdict_is_kept_for_the_period():
    backends = Backends()
    readiness = Readiness(backends.check, ttl=0.2)
    probes = [asyncio.create_task(readiness.verdict()) for _ in range(50)]
    await asyncio.sleep(0.01)
    backends.release.set()
    assert await asyncio.gather(*probes) == [backends.answer] * 50
    assert await readiness.verdict() == backends.answer
    assert backends.runs == 1

    backends.answer = {"postgres": "error: ConnectionRefusedError", "kafka": "ok"}
    await asyncio.sleep(0.25)
    assert await readiness.verdict() == backends.answer  # a failure shows after the period
    assert backends.runs == 2


async def test_a_prober_that_hangs_up_does_not_cancel_the_check_the_others_wait_for():
    backends = Backends()
    readiness = Readiness(backends.check, ttl=10)
    impatient = asyncio.create_task(readiness.verdict())
    patient = asyncio.create_task(readiness.verdict())
    await asyncio.sleep(0.01)
    impatient.cancel()
    backends.release.set()
    assert await patient == backends.answer
    assert impatient.cancelled()
    assert backends.runs == 1


async def test_close_stops_a_check_still_running():
    backends = Backends()
    readiness = Readiness(backends.check, ttl=1)
    probe = asyncio.create_task(readiness.verdict())
    await asyncio.sleep(0.01)
    await readiness.close()
    await asyncio.gather(probe, return_exceptions=True)
    assert probe.cancelled()
