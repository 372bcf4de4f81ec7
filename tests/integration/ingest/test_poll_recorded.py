"""When a connection last polled successfully is kept in ``coupa_polls``: every poll that reads
all its feeds moves it, found it changes or not; a failed poll leaves it where it was."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from services.ingest.poller import Poller
from shared.db.pool import Pool, create_pool
from shared.http.errors import HttpError
from simulators.common.faults import FAULTS_KEY, CallWindow, FaultInjector, FaultPlan
from simulators.common.server import serve
from simulators.coupa.app import create_app as create_coupa_sim
from simulators.coupa.options import CoupaSimOptions, SeedSize
from tests.integration.ingest.conftest import CONNECTION, SimDirectory, sim_client

pytestmark = pytest.mark.integration


@dataclass
class PollRig:
    poller: Poller
    pool: Pool
    faults: FaultInjector

    async def polled_at(self) -> datetime | None:
        at: datetime | None = await self.pool.fetchval(
            "SELECT polled_at FROM coupa_polls WHERE connection = $1", CONNECTION
        )
        return at


@pytest.fixture
async def poll_rig(db_url: str) -> AsyncIterator[PollRig]:
    """A small Coupa simulator, a poller reading it, and its database."""
    async with AsyncExitStack() as stack:
        pool = await create_pool(db_url)
        stack.push_async_callback(pool.close)
        size = SeedSize(suppliers=5, projects=2, purchase_orders=3, invoices=6)
        app = create_coupa_sim(CoupaSimOptions(size=size))
        url = await stack.enter_async_context(serve(app))
        poller = Poller(
            pool,
            SimDirectory(sim_client(stack, url, attempts=2), polling=True),
            on_accepted=lambda: None,
            first_lookback=timedelta(days=3650),
        )
        yield PollRig(poller, pool, app[FAULTS_KEY])


async def test_a_poll_that_finds_nothing_new_still_moves_the_last_successful_poll(
    poll_rig: PollRig,
) -> None:
    assert await poll_rig.polled_at() is None
    before = datetime.now(UTC)
    assert await poll_rig.poller.poll(CONNECTION) > 0
    first = await poll_rig.polled_at()
    assert first is not None
    assert before <= first <= datetime.now(UTC)

    assert await poll_rig.poller.poll(CONNECTION) == 0, "nothing changed in Coupa"
    second = await poll_rig.polled_at()
    assert second is not None
    assert second > first


async def test_a_failed_poll_leaves_the_last_successful_poll_where_it_was(
    poll_rig: PollRig,
) -> None:
    await poll_rig.poller.poll(CONNECTION)
    succeeded = await poll_rig.polled_at()
    poll_rig.faults.set_plan(FaultPlan(server_errors=CallWindow(count=1_000)))
    with pytest.raises(HttpError):
        await poll_rig.poller.poll(CONNECTION)
    assert await poll_rig.polled_at() == succeeded
