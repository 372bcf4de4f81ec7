"""Three posters in one consumer group, through the real stack: a burst of approved invoices is
booked exactly once, judged by the independent checker, and every poster booked some of it."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.driver import approve, create_invoice
from devstack.throwaway import throwaway_stack
from tests.e2e.conftest import Rig
from tests.support import eventually

pytestmark = pytest.mark.e2e

POSTERS = 3
BURST = 60


@pytest.fixture(scope="module")
def three_posters() -> Iterator[Rig]:
    args = argparse.Namespace(posters=POSTERS)
    with throwaway_stack(args, label="e2e-posters", poll_interval_seconds=2) as stack:
        yield Rig(stack)


async def samples(http: aiohttp.ClientSession, url: str, family: str) -> list[float]:
    """The value of every sample of one metric family on a service's admin port."""
    async with http.get(url, raise_for_status=True) as answer:
        text = await answer.text()
    return [
        sample.value
        for found in text_string_to_metric_families(text)
        if found.name == family
        for sample in found.samples
    ]


async def test_three_posters_share_a_burst_and_book_each_invoice_once(three_posters: Rig) -> None:
    rig = three_posters
    urls = {child.name: child.metrics_url for child in rig.stack.posters()}
    assert len(urls) == POSTERS
    async with aiohttp.ClientSession() as http:

        async def every_poster_holds_partitions() -> bool:
            for url in urls.values():
                assert url is not None
                if not await samples(http, url, "connector_consumer_lag"):
                    return False
            return True

        # The group formed with all three before the burst, so each one is handed a share.
        await eventually(every_poster_holds_partitions, within=60, what="a three-poster group")
        invoices = [
            await approve(http, rig.coupa, (await create_invoice(http, rig.coupa))["id"])
            for _ in range(BURST)
        ]
        states = await rig.settle(invoices, within=120)
        verdict = await rig.verdict(invoices, states)
        assert verdict.ok, (verdict.line(), verdict.problems[:5])
        assert (verdict.approved, verdict.posted, verdict.duplicates) == (BURST, BURST, 0)
        jobs = {}
        for name, url in urls.items():
            assert url is not None
            jobs[name] = sum(await samples(http, url, "connector_poster_jobs"))
    assert all(count > 0 for count in jobs.values()), jobs
    assert sum(jobs.values()) >= BURST, jobs
