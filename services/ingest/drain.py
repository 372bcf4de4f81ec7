"""Drains the Coupa inbox onto Kafka: each accepted object becomes one event, in order.

Invoices are enriched first with the purchase orders their lines cite, so the event carries what
the mapper needs and the mapper never calls Coupa. The POs a whole batch cites are looked up at
once, per connection, in the PO cache, and those it cannot answer fetched in bulk
(``po_cache.py``): invoices sharing a PO cost Coupa one call per page of POs a batch at most,
and none while the cache holds a good version. A Coupa or broker failure leaves the row pending
and the drain tries again after a pause; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from aiokafka.errors import KafkaError

from services.ingest.directory import CoupaConnections
from services.ingest.inbox import Pending, claim_pending, mark_failed, mark_published
from services.ingest.po_cache import resolve
from shared.coupa.orders import cited_order_lines, cited_po_numbers
from shared.db.pool import Connection, Pool
from shared.http.errors import HttpError
from shared.kafka.envelope import Envelope, Source, record_key
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics
from shared.messages import INVOICE_APPROVED, SUPPLIER_CHANGED, InvoiceApproved, SupplierChanged
from shared.outages import OUTAGES
from shared.service.waiting import wait_for_event

log = logging.getLogger(__name__)

_BATCH = 50
_IDLE_SECONDS = 1.0
_FAILURE_PAUSE_SECONDS = 2.0
# Coupa, the broker or the database not answering now: the row stays pending.
_NOT_NOW: tuple[type[BaseException], ...] = (HttpError, KafkaError, *OUTAGES)


class BatchOrders:
    """The POs a drain batch's invoices cite, resolved once per connection when its first
    invoice with POs is published, for every invoice of the batch together."""

    def __init__(
        self,
        conn: Connection,
        directory: CoupaConnections,
        items: list[Pending],
        max_age: timedelta,
    ) -> None:
        self._conn = conn
        self._directory = directory
        self._max_age = max_age
        self._cited: dict[str, dict[str, set[int]]] = {}
        for item in items:
            if item.kind == "invoice":
                cited = self._cited.setdefault(item.connection, {})
                for number, lines in cited_order_lines(item.body).items():
                    cited.setdefault(number, set()).update(lines)
        self._found: dict[str, dict[str, dict[str, Any]]] = {}

    async def of(self, item: Pending) -> list[dict[str, Any]]:
        """Coupa's JSON of the POs ``item`` cites that Coupa knows, in the order cited."""
        numbers = cited_po_numbers(item.body)
        if not numbers:  # no Coupa client needed for an invoice without POs
            return []
        found = self._found.get(item.connection)
        if found is None:
            client = await self._directory.coupa(item.connection)
            found = await resolve(
                self._conn, client, item.connection, self._cited[item.connection], self._max_age
            )
            self._found[item.connection] = found
        return [found[number] for number in numbers if number in found]


class InboxDrain:
    """The background loop that publishes pending inbox rows; ``wake`` makes it look now."""

    def __init__(
        self,
        pool: Pool,
        publisher: Publisher,
        topics: Topics,
        directory: CoupaConnections,
        *,
        po_max_age: timedelta = timedelta(days=1),
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._topics = topics
        self._directory = directory
        self._po_max_age = po_max_age
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Drain until stopped; a failure is logged and the rows stay pending for the next try."""
        while not self._stopping.is_set():
            try:
                published, failed = await self.drain_once()
            except OUTAGES as exc:
                log.warning("inbox drain: database unreachable", extra={"error": repr(exc)})
                published, failed = 0, True
            except Exception:
                log.exception("inbox drain failed unexpectedly; rows stay pending")
                published, failed = 0, True
            if published and not failed:
                continue
            self._wake.clear()
            pause = _FAILURE_PAUSE_SECONDS if failed else _IDLE_SECONDS
            await wait_for_event(self._wake, pause)

    async def drain_once(self) -> tuple[int, bool]:
        """Publish up to one batch; return how many went out and whether one failed."""
        published = 0
        async with self._pool.acquire() as conn, conn.transaction():
            items = await claim_pending(conn, _BATCH)
            orders = BatchOrders(conn, self._directory, items, self._po_max_age)
            for item in items:
                try:
                    topic, envelope = await self._event(item, orders)
                    await self._publisher.publish(topic, envelope)
                except _NOT_NOW as exc:
                    # Stop here: later rows may be newer versions of the same object.
                    await mark_failed(conn, item.id, f"{type(exc).__name__}: {exc}")
                    log.warning(
                        "inbox row not published yet",
                        extra={"inbox_id": item.id, "error": repr(exc)},
                    )
                    return published, True
                await mark_published(conn, item.id)
                published += 1
        return published, False

    async def _event(self, item: Pending, orders: BatchOrders) -> tuple[str, Envelope]:
        key = record_key(item.connection, item.kind, item.coupa_id)
        if item.kind == "supplier":
            payload = SupplierChanged(supplier=item.body).model_dump(mode="json")
            topic, schema = self._topics.coupa_suppliers, SUPPLIER_CHANGED
        else:
            payload = InvoiceApproved(
                invoice=item.body, purchase_orders=await orders.of(item)
            ).model_dump(mode="json")
            topic, schema = self._topics.coupa_invoices, INVOICE_APPROVED
        source: Source = "webhook" if item.source == "webhook" else "poll"
        envelope = Envelope(
            schema=schema, connection=item.connection, key=key, source=source, payload=payload
        )
        return topic, envelope
