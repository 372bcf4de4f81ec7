"""The reference cache against the simulator: counts, replacement, NOTIFY, the schedule."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from services.poster.metrics import PosterMetrics
from services.poster.refresher import ReferenceRefresher
from shared.mappings import CHANNEL
from shared.reference.cache import TABLES
from shared.reference.refresh import refresh
from tests.integration.poster.conftest import CONNECTION
from tests.support import eventually

pytestmark = pytest.mark.integration


def seed_counts(sim) -> dict[str, int]:
    store = sim.state.store
    return {
        "vendors": sum(1 for f in store.firms.values() if f["VendorInd"] == "Y"),
        "accounts": len(store.accounts),
        "projects": len(store.projects),
        "periods": len(store.periods),
    }


async def test_refresh_caches_what_deltek_has_and_notifies_the_mapper(
    sim, pool, db_url, connections
):
    listener = await asyncpg.connect(db_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[3]))
    try:
        counts = await refresh(pool, await connections.client_for(CONNECTION), CONNECTION)
        assert await asyncio.wait_for(heard.get(), 5) == CONNECTION
    finally:
        await listener.close()

    assert counts == seed_counts(sim)
    for kind, table in TABLES.items():
        assert await pool.fetchval(f"SELECT count(*) FROM {table.name}") == counts[kind]
    refreshes = await pool.fetch("SELECT kind, rows FROM reference_refreshes")
    assert {r["kind"]: r["rows"] for r in refreshes} == counts

    task = await pool.fetchrow(
        "SELECT * FROM deltek_projects WHERE wbs1 = '2023001.00' AND wbs2 = '100' AND wbs3 = '01'"
    )
    assert (task["status"], task["charge_type"], task["sub_level"]) == ("A", "R", False)
    phase = await pool.fetchrow(
        "SELECT * FROM deltek_projects WHERE wbs1 = '2023001.00' AND wbs2 = '100' AND wbs3 = ''"
    )
    assert phase["sub_level"] is True
    assert await pool.fetchval("SELECT count(*) FROM deltek_periods WHERE NOT closed") == 4
    firm = next(f for f in sim.state.store.firms.values() if f["VendorInd"] == "Y")
    vendor = await pool.fetchrow(
        "SELECT * FROM deltek_vendors WHERE client_id = $1", firm["ClientID"]
    )
    assert (vendor["vendor"], vendor["name"], vendor["status"], vendor["tax_id"]) == (
        firm["Vendor"], firm["Name"], firm["Status"], firm["FedID"])  # fmt: skip


async def test_a_second_refresh_replaces_the_rows(sim, pool, connections):
    client = await connections.client_for(CONNECTION)
    await refresh(pool, client, CONNECTION)
    store = sim.state.store
    gone = next(k for k, f in store.firms.items() if f["VendorInd"] == "Y")
    del store.firms[gone]
    store.accounts["700.00"] = {"Account": "700.00", "Name": "New", "Type": 9, "Status": "A"}

    counts = await refresh(pool, client, CONNECTION)

    assert counts == seed_counts(sim)
    assert (
        await pool.fetchval("SELECT count(*) FROM deltek_vendors WHERE client_id = $1", gone) == 0
    )
    assert await pool.fetchval("SELECT name FROM deltek_accounts WHERE account = '700.00'") == "New"


async def test_an_empty_answer_keeps_the_cached_rows(sim, pool, connections):
    client = await connections.client_for(CONNECTION)
    first = await refresh(pool, client, CONNECTION)
    sim.state.store.accounts.clear()
    again = await refresh(pool, client, CONNECTION, ("accounts",))
    assert again == {"accounts": first["accounts"]}
    assert await pool.fetchval("SELECT count(*) FROM deltek_accounts") == first["accounts"]


async def test_the_loop_refreshes_what_is_due_and_then_waits(sim, pool, connections):
    refresher = ReferenceRefresher(
        pool, connections, PosterMetrics(CollectorRegistry()), interval_seconds=900
    )
    first = await refresher.refresh_due()
    assert first == {CONNECTION: seed_counts(sim)}
    assert await refresher.refresh_due() == {}  # nothing due within the interval
    await pool.execute(
        "UPDATE reference_refreshes SET refreshed_at = now() - interval '1 hour' "
        "WHERE kind = 'periods'"
    )
    assert await refresher.refresh_due() == {CONNECTION: {"periods": 14}}

    await pool.execute("DELETE FROM reference_refreshes")
    task = asyncio.create_task(refresher.run())  # at start, every never-refreshed kind at once
    try:

        async def done() -> bool:
            return await pool.fetchval("SELECT count(*) FROM reference_refreshes") == 4

        await eventually(done, within=10, what="the first refresh")
    finally:
        refresher.stop()
        await asyncio.wait_for(task, 5)
