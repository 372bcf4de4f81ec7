"""One poster with many jobs in flight on a small database pool: no handler waits on the pool
for a connection another of them holds (nested borrowing would deadlock), and every invoice is
booked exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from shared.db.pool import Pool, create_pool
from shared.deltek import LedgerBatchUnsureError
from shared.http import FatalError
from shared.tenant_facts import LedgerInvoices
from simulators.common.requests import REQUEST_LOG_KEY
from tests.integration.poster.conftest import (
    active_vendor,
    coords_of,
    envelope_of,
    make_command,
    our_batches,
    store_record,
)

pytestmark = pytest.mark.integration

JOBS = 16


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[Pool]:
    """Fewer connections than jobs in flight, as a poster at full concurrency has."""
    pool = await create_pool(db_url, max_size=2)
    yield pool
    await pool.close()


async def handle_at_once(sim, pool, topics, handler, *, first_id: int) -> None:
    """``JOBS`` stored invoices of one vendor, all handed to ``handler`` at once."""
    vendor = active_vendor(sim)
    commands = [make_command(vendor, coupa_id=first_id + n) for n in range(JOBS)]
    for command in commands:
        await store_record(pool, command)
    await asyncio.wait_for(
        asyncio.gather(*(handler(envelope_of(c), coords_of(topics)) for c in commands)), 60
    )


async def test_many_jobs_at_once_share_a_small_pool_and_book_once_each(
    sim, pool, topics, make_handler
):
    await handle_at_once(sim, pool, topics, make_handler(), first_id=9000)
    batches = our_batches(sim)
    assert len(batches) == JOBS
    assert all(len(batch.masters) == 1 for batch in batches.values())
    states = await pool.fetch("SELECT state, count(*) FROM posting_ledger GROUP BY state")
    assert [(row["state"], row["count"]) for row in states] == [("posted", JOBS)]


async def test_jobs_in_flight_share_ledger_reads_and_new_jobs_skip_the_batch_look_up(
    sim, pool, topics, make_handler
):
    """Issue 11: a first attempt asks no batch look-up (the ledger knows the job is new), and
    the PSALedger look-ups of jobs in flight go out together once the tenant proved ``in``."""
    await sim.set_faults(latency_ms=50)
    await handle_at_once(sim, pool, topics, make_handler(), first_id=9100)
    assert len(our_batches(sim)) == JOBS
    counts = sim.app[REQUEST_LOG_KEY].counts
    batch_reads = sum(
        n for call, n in counts.items() if call.startswith("GET /api/DataEntry/apControl")
    )
    ledger_reads = sum(n for call, n in counts.items() if "PSALedger" in call)
    assert batch_reads == 0
    # The proof of "in" (two reads), then far fewer reads than jobs.
    assert ledger_reads <= 2 + JOBS // 2, counts
    assert (
        await pool.fetchval("SELECT value FROM tenant_facts WHERE fact = 'ledger_in_operator'")
        == "yes"
    )


async def test_an_untrusted_batch_is_read_one_by_one_and_a_failed_proof_fails_no_job(
    sim, pool, connections, monkeypatch
):
    """Review of issue 11: a batched answer that is not trusted whole (here: rows outside its
    filter) is re-read pair by pair and 'in' is not used again; a proof that Deltek refuses
    leaves the look-up to single reads instead of failing the job."""
    client = await connections.client_for("acme")
    wanted = list(dict.fromkeys((r["Vendor"], r["Invoice"]) for r in sim.state.store.ledger))[:4]

    async def refused(column: str, *, list_size: int) -> bool:
        raise FatalError("no right to read the ledger unfiltered", status=403)

    monkeypatch.setattr(client, "ledger_in_works", refused)
    ledger = LedgerInvoices(pool, client, "acme", fixed="Invoice")
    assert await ledger.find_posted_invoice(*wanted[0])  # a single read, no failure

    async def ignoring(pairs, *, column):
        raise LedgerBatchUnsureError("rows outside the filter", ignored=True)

    proven = LedgerInvoices(pool, client, "acme", fixed="Invoice")
    monkeypatch.setattr(client, "ledger_in_works", lambda column, *, list_size: _true())
    monkeypatch.setattr(client, "find_posted_invoices", ignoring)
    await sim.set_faults(latency_ms=30)
    found = await asyncio.gather(*(proven.find_posted_invoice(v, i) for v, i in wanted))
    assert all(rows for rows in found)
    assert all(
        (rows[0].Vendor or "").strip() == v for rows, (v, _) in zip(found, wanted, strict=True)
    )
    fact = "SELECT value FROM tenant_facts WHERE fact = 'ledger_in_operator'"
    assert await pool.fetchval(fact) == "no"


async def _true() -> bool:
    return True
