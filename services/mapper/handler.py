"""The mapper's message handler: store each Coupa event, then settle it and wake parked ones.

Redelivery is harmless: ``record_received`` stores a version once; a version already ``mapped``
has its stored command published again (the poster dedupes by job id); a posted, flagged or
superseded one only gains the ``redelivered`` audit event. A new ``SupplierChanged`` wakes the
connection's parked invoices, since a new tax id or name may now find their vendor; on a
connection with ``create_vendors`` it is also settled into an ``UpsertVendor`` (vendor sync),
and otherwise only kept.
"""

from __future__ import annotations

import logging

from services.mapper.workflow import SERVICE, MapperDeps, Trigger, settle
from shared.kafka.consumer import MessageHandler
from shared.kafka.envelope import Coordinates, Envelope
from shared.mappings import notify_changed
from shared.messages import INVOICE_APPROVED, SUPPLIER_CHANGED
from shared.records import record_received

log = logging.getLogger(__name__)


def mapper_handler(deps: MapperDeps) -> MessageHandler:
    """The handler for ``coupa.invoices`` and ``coupa.suppliers``."""

    async def handle(envelope: Envelope, coords: Coordinates) -> None:
        # One pooled connection for the whole message: storing it, then settling it.
        async with deps.pool.acquire() as conn:
            record_id, created = await record_received(conn, envelope, coords, service=SERVICE)
            if envelope.schema_name == SUPPLIER_CHANGED:
                if created:
                    await notify_changed(conn, envelope.connection)
                settings = await deps.settings_for(conn, envelope.connection)
                if settings is None or not settings.mapping.create_vendors:
                    return
            elif envelope.schema_name != INVOICE_APPROVED:
                log.warning("stored a message of an unknown schema", extra={"key": envelope.key})
                return
            trigger = Trigger(source=envelope.source, trace_id=envelope.trace_id, coords=coords)
            await settle(deps, conn, record_id, trigger)

    return handle
