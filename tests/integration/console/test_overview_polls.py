"""The overview shows when each connection last polled successfully, as the poll stored it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ingest.poller import write_polled
from shared.db.pool import create_pool
from tests.integration.console.seed import CONNECTION, seed

pytestmark = pytest.mark.integration


async def overview(console) -> str:
    async with console.client.get("/") as answer:
        assert answer.status == 200
        return await answer.text()


async def test_the_overview_shows_the_last_successful_poll(console, db_url) -> None:
    await seed(db_url)
    await console.sign_in("vera")
    assert "Last successful poll</dt><dd>never</dd>" in await overview(console)

    polled = datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
    pool = await create_pool(db_url)
    try:
        async with pool.acquire() as conn:
            await write_polled(conn, CONNECTION, polled)
    finally:
        await pool.close()
    html = await overview(console)
    assert f'Last successful poll</dt><dd><time datetime="{polled.isoformat()}"' in html
