"""Drains the Coupa inbox onto Kafka: each accepted object becomes one event, in order.

Invoices are enriched first with the purchase orders their lines cite, so the event carries what
the mapper needs and the mapper never calls Coupa. The POs a whole batch cites are looked up at
once, per connection, in the PO cache, and those it cannot answer fetched in bulk
(``po_cache.py``): invoices sharing a PO cost Coupa one call per page of POs a batch at most,
and none while the cache holds a good version. A Coupa or broker failure leaves the row pending
and the drain tries again after a pause; nothing is dropped. An event the broker refuses for its
size (a Call Out under the HTTP limit can pass Kafka's once its POs are added) would be refused
every time, and retrying it would hold back every row behind it: it is parked with its reason
(``inbox.park``) and the drain goes on.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from aiokafka.errors import KafkaError

from services.ingest.directory import CoupaConnections
from services.ingest.inbox import Pending, claim_pending, mark_failed, mark_published, park
from services.ingest.po_cache import resolve
from shared.call_context import bound
from shared.coupa.orders import cited_order_lines, cited_po_numbers
from shared.db.pool import Connection, Pool
from shared.http.errors import HttpError
from shared.kafka.envelope import Envelope, Source, record_key
from shared.kafka.producer import MessageTooLargeError, Publisher
from shared.kafka.topics import Topics
from shared.messages import INVOICE_APPROVED, SUPPLIER_CHANGED, InvoiceApproved, SupplierChanged
from shared.outages import OUTAGES
from shared.service.waiting import wait_for_event

log = logging.getLogger(__name__)

_BATCH = 50
_IDLE_SECONDS = 1.0
_FAILURE_PAUSE_SECONDS = 2.0
# The audit trail's name for the service the drain runs in (``services/ingest/app.py``).
_SERVICE = "ingest"
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
            with bound(connection=item.connection):
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
                settled, failed = await self.drain_once()
            except OUTAGES as exc:
                log.warning("inbox drain: database unreachable", extra={"error": repr(exc)})
                settled, failed = 0, True
            except Exception:
                log.exception("inbox drain failed unexpectedly; rows stay pending")
                settled, failed = 0, True
            if settled and not failed:
                continue
            self._wake.clear()
            pause = _FAILURE_PAUSE_SECONDS if failed else _IDLE_SECONDS
            await wait_for_event(self._wake, pause)

    async def drain_once(self) -> tuple[int, bool]:
        """Settle up to one batch (publish, or park what can never be published); return how
        many rows were settled and whether one failed."""
        settled = 0
        async with self._pool.acquire() as conn, conn.transaction():
            items = await claim_pending(conn, _BATCH)
            orders = BatchOrders(conn, self._directory, items, self._po_max_age)
            for item in items:
                try:
                    await self._settle(conn, item, orders)
                except _NOT_NOW as exc:
                    # Stop here: later rows may be newer versions of the same object.
                    await mark_failed(conn, item.id, f"{type(exc).__name__}: {exc}")
                    log.warning(
                        "inbox row not published yet",
                        extra={"inbox_id": item.id, "error": repr(exc)},
                    )
                    return settled, True
                settled += 1
        return settled, False

    async def _settle(self, conn: Connection, item: Pending, orders: BatchOrders) -> None:
        """Publish ``item``'s event, or park the item if the broker will never take it."""
        topic, envelope = await self._event(item, orders)
        try:
            await self._publisher.publish(topic, envelope)
        except MessageTooLargeError as exc:
            orders_count = len(envelope.payload.get("purchase_orders") or ())
            await park(
                conn,
                item,
                envelope,
                service=_SERVICE,
                reason=_too_large(item, envelope.key, orders_count, exc.size),
                details={"bytes": exc.size, "topic": topic, "purchase_orders": orders_count},
            )
            log.error(
                "inbox row parked: its event is too large for the broker",
                extra={"inbox_id": item.id, "key": envelope.key, "bytes": exc.size},
            )
            return
        await mark_published(conn, item.id)

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


def _too_large(item: Pending, key: str, orders_count: int, size: int) -> str:
    """Why a row was parked for its size, in words for the people who look at parked records."""
    what = f"Coupa {item.kind} {item.coupa_id}"
    if item.kind == "invoice":
        number = item.body.get("invoice-number")
        what = f"Coupa invoice {number} (id {item.coupa_id}), with the {orders_count} purchase"
        what += " order(s) it cites,"
    return (
        f"{what} is too large to pass through Kafka: its message is {size:,} bytes, over the "
        "broker's or the producer's limit for one message. Nothing was sent to Deltek. Once the "
        f"limit is raised, `connector replay --record {key}` sends it on."
    )
