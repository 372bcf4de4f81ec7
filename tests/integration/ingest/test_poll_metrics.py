"""The poll's metrics: when each connection was last polled through, and its Coupa calls."""

from __future__ import annotations

import asyncpg

from services.ingest.poller import Poller
from shared.db.pool import create_pool
from tests.integration.ingest.conftest import CONNECTION, IngestRig
from tests.support import eventually


async def test_a_completed_poll_sets_its_timestamp_and_labels_its_coupa_calls(
    rig: IngestRig,
) -> None:
    rig.directory.polling = True

    async def polled() -> bool:
        return f'connector_last_successful_poll_timestamp_seconds{{connection="{CONNECTION}"}}' in (
            await rig.metrics()
        )

    await eventually(polled, within=30, what="a poll reported")
    metrics = await rig.metrics()
    assert (
        'connector_api_call_seconds_count{api="coupa",connection="acme",'
        'endpoint="GET /api/invoices",outcome="ok"}' in metrics
    )


async def test_a_poll_left_to_another_replica_reports_nothing(rig: IngestRig, db_url: str) -> None:
    pool = await create_pool(db_url)
    other = await asyncpg.connect(db_url)
    polled: list[str] = []
    try:
        poller = Poller(pool, rig.directory, on_accepted=lambda: None, on_polled=polled.append)
        await other.execute(
            "SELECT pg_advisory_lock(hashtext('connector-poll:' || $1))", CONNECTION
        )
        assert await poller.poll(CONNECTION) == 0
        assert polled == []
        await other.execute("SELECT pg_advisory_unlock_all()")
        await poller.poll(CONNECTION)
        assert polled == [CONNECTION]
    finally:
        await other.close()
        await pool.close()
