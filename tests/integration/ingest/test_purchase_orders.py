"""The purchase orders ingest attaches to invoices: fetched in bulk, kept in Postgres, kept fresh.

Coupa calls are counted by the simulator (``GET /_admin/requests``), not by the connector.
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from services.ingest.inbox import accept_many
from services.ingest.poller import Poller
from shared.db.pool import Pool, create_pool
from shared.kafka.envelope import Envelope
from tests.integration.ingest.conftest import CONNECTION, IngestRig, StartRig
from tests.support import eventually, read_topic

pytestmark = pytest.mark.integration

PO_CALLS = "GET /api/purchase_orders"
PAGE = 7


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(db_url)
    yield pool
    await pool.close()


class Drained:
    """Hands invoices to ingest's inbox and reads what the drain published for them."""

    def __init__(self, rig: IngestRig, pool: Pool, bootstrap: str, topic: str) -> None:
        self.rig, self.pool, self.bootstrap, self.topic = rig, pool, bootstrap, topic
        self.published = 0

    async def publish(self, invoices: list[dict[str, Any]]) -> tuple[list[Envelope], int]:
        """Accept ``invoices`` into the inbox at once (one insert: one drain batch), wait until
        they are published; their events, and how many PO calls Coupa answered meanwhile."""
        before = (await self.rig.coupa_calls())[PO_CALLS]
        async with self.pool.acquire() as conn:
            await accept_many(conn, CONNECTION, "invoice", invoices, "webhook")

        async def all_published() -> bool:
            return not await self.pool.fetchval(
                "SELECT count(*) FROM coupa_inbox WHERE published_at IS NULL"
            )

        await eventually(all_published, within=30, what="the drain publishing the invoices")
        self.published += len(invoices)
        values = await read_topic(self.bootstrap, self.topic, expect=self.published)
        ids = {invoice["id"] for invoice in invoices}
        events = [e for e in map(Envelope.decode, values) if e.payload["invoice"]["id"] in ids]
        return events, (await self.rig.coupa_calls())[PO_CALLS] - before


@pytest.fixture
def drained(pool, kafka_bootstrap, topics):
    def make(rig: IngestRig) -> Drained:
        return Drained(rig, pool, kafka_bootstrap, topics.coupa_invoices)

    return make


def attached(event: Envelope) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = event.payload["purchase_orders"]
    return orders


async def test_a_batch_fetches_the_pos_it_lacks_in_bulk_a_page_a_call(start_rig: StartRig, drained):
    """20 invoices on 20 new POs in one drain batch, pages of 7: ceil(20/7) = 3 calls, where
    one call a PO made 20; every invoice carries its own PO."""
    rig = await start_rig(page_size=PAGE)
    orders = [rig.sim_store.create_purchase_order() for _ in range(20)]
    invoices = [rig.sim_store.create_invoice(None, order["id"], "approved") for order in orders]
    events, calls = await drained(rig).publish(invoices)
    assert calls == math.ceil(len(orders) / PAGE)
    by_invoice = {event.payload["invoice"]["id"]: attached(event) for event in events}
    assert by_invoice == {
        invoice["id"]: [order] for invoice, order in zip(invoices, orders, strict=True)
    }


async def test_invoices_on_a_kept_po_cost_no_coupa_call(start_rig: StartRig, drained):
    rig = await start_rig()
    order = rig.sim_store.create_purchase_order()
    drain = drained(rig)
    _, first_calls = await drain.publish(
        [rig.sim_store.create_invoice(None, order["id"], "approved")]
    )
    assert first_calls == 1
    later = [rig.sim_store.create_invoice(None, order["id"], "approved") for _ in range(3)]
    events, calls = await drain.publish(later[:1])
    events += (await drain.publish(later[1:]))[0]
    assert calls == 0
    assert (await rig.coupa_calls())[PO_CALLS] == 1
    assert [attached(e) for e in events] == [[order]] * 3


async def test_a_po_changed_in_coupa_is_fetched_again_by_the_poll(
    start_rig: StartRig, drained, pool
):
    """The poll lists the POs Coupa changed since its cursor and keeps each new version, so
    the next invoice carries the revision and the drain still makes no call."""
    rig = await start_rig()
    order = copy.deepcopy(rig.sim_store.create_purchase_order())
    drain = drained(rig)
    await drain.publish([rig.sim_store.create_invoice(None, order["id"], "approved")])
    await asyncio.sleep(1.1)  # Coupa stamps updated-at in whole seconds
    revised = copy.deepcopy(
        rig.sim_store.revise_purchase_order(order["id"], {"ship-to-attention": "Site office"})
    )
    assert revised["updated-at"] != order["updated-at"]
    poller = Poller(
        pool, rig.directory, on_accepted=lambda: None, first_lookback=timedelta(days=3650)
    )
    await poller.poll(CONNECTION)
    kept = await pool.fetchval(
        "SELECT body FROM coupa_purchase_orders WHERE po_id = $1", order["id"]
    )
    assert kept == revised
    events, calls = await drain.publish(
        [rig.sim_store.create_invoice(None, order["id"], "approved")]
    )
    assert calls == 0
    assert attached(events[0]) == [revised]


async def test_a_kept_po_without_a_line_the_invoice_cites_is_fetched_again(
    start_rig: StartRig, drained
):
    """A revision that adds a line, billed before the poll saw it: the kept version is older
    than the invoice, so the drain asks Coupa again and attaches the revision."""
    rig = await start_rig()
    store = rig.sim_store
    order = store.create_purchase_order()
    drain = drained(rig)
    await drain.publish([store.create_invoice(None, order["id"], "approved")])
    added = {**order["order-lines"][0], "id": store.seeder.data.new_id("po_line", 70000)}
    revised = copy.deepcopy(
        store.revise_purchase_order(order["id"], {"order-lines": [*order["order-lines"], added]})
    )
    invoice = store.create_invoice(None, order["id"], "approved")
    invoice["invoice-lines"][0]["order-line-id"] = added["id"]
    events, calls = await drain.publish([invoice])
    assert calls == 1
    assert attached(events[0]) == [revised]


async def test_a_po_coupa_does_not_know_is_left_out_and_asked_for_again(
    start_rig: StartRig, drained
):
    rig = await start_rig()
    store = rig.sim_store
    drain = drained(rig)
    for _ in range(2):
        invoice = store.create_invoice(None, None, "approved")
        invoice["invoice-lines"][0]["po-number"] = "PO-LATE-1"
        events, calls = await drain.publish([invoice])
        assert calls == 1, "an unknown PO is never remembered as unknown"
        assert attached(events[0]) == []
    known = store.create_purchase_order({"po-number": "PO-LATE-1"})
    assert {line["order-header-number"] for line in known["order-lines"]} == {"PO-LATE-1"}
    events, calls = await drain.publish([store.create_invoice(None, known["id"], "approved")])
    assert calls == 1
    assert attached(events[0]) == [known]
    assert (await drain.publish([store.create_invoice(None, known["id"], "approved")]))[1] == 0
