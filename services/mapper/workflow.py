"""Settling one stored invoice or supplier version: the steps the handler and the resume loop share.

An invoice becomes a ``PostApInvoice``; a supplier, on a connection with ``create_vendors``,
an ``UpsertVendor`` (``supplier.py``). Both go to ``deltek.writes`` keyed by the record key.

Under a row lock, in one transaction: skip versions that are done, supersede older ones (or
this one, if a newer version is stored), map against the connection's reference snapshot
(``snapshots.py``), compare with what is already booked, then move the record to its state and
publish the command. The publish happens inside the transaction, after the state change: if it
fails the transaction rolls back and the record is as before (the handler's message is retried,
the resume loop tries again on its next pass); if the process dies after publishing but before
commit, the record stays where it was and the same job is published again later, which the
poster's ledger absorbs. Holding the lock while publishing also keeps the poster's own update of
the record from landing before ours.

Everything runs on the caller's database connection, so a handler holds one pooled connection
however many handlers run at once (a second, nested acquire could wait for ever on a pool its
peers have taken).

A record parked while a change of its connection's reference data was being heard is settled
again at once: the resume loop, woken by that change, may have looked for parked records before
this one was committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from services.mapper import repository as repo
from services.mapper.metrics import MapperMetrics
from services.mapper.rules.outcome import Mapped, MapResult, Parked
from services.mapper.rules.posted import flag_reason
from services.mapper.rules.resolve import map_invoice
from services.mapper.rules.supplier import build_upsert_vendor
from services.mapper.rules.vendor import supplier_id
from services.mapper.snapshots import ReferenceSnapshots
from shared.connection_settings import ConnectionSettings
from shared.db.pool import Connection, Pool
from shared.kafka.envelope import Coordinates, Envelope, Source, utc_now
from shared.kafka.producer import Publishes
from shared.kafka.topics import Topics
from shared.messages import (
    POST_AP_INVOICE,
    UPSERT_VENDOR,
    InvoiceApproved,
    PostApInvoice,
    SupplierChanged,
    UpsertVendor,
    invoice_job_id,
)
from shared.records import is_newer, newest, transition, versions

log = logging.getLogger(__name__)

SERVICE = "mapper"
# Read on the caller's connection (see the module docstring), on every use.
SettingsFor = Callable[[Connection, str], Awaitable[ConnectionSettings | None]]
# A previewed record was mapped but held back by preview mode; once live it is settled again.
_OPEN_STATES = ("received", "parked", "mapped", "previewed")
_SCHEMAS = {"invoice": POST_AP_INVOICE, "supplier": UPSERT_VENDOR}


@dataclass(frozen=True)
class MapperDeps:
    """Everything the mapper's logic touches, passed in so tests can pass their own."""

    pool: Pool
    publisher: Publishes
    topics: Topics
    settings_for: SettingsFor
    references: ReferenceSnapshots
    metrics: MapperMetrics | None = None
    clock: Callable[[], datetime] = utc_now


@dataclass(frozen=True)
class Trigger:
    """Why a record is being settled now, carried onto the command and into the audit trail."""

    source: Source
    trace_id: str
    coords: Coordinates | None = None
    # The audit event a successful mapping records: "mapped", or "resumed" from the resume loop.
    event: str = "mapped"


def invoice_event(payload: dict[str, Any]) -> InvoiceApproved:
    """The ``InvoiceApproved`` a record holds; a bare Coupa invoice is read as one without POs."""
    if isinstance(payload.get("invoice"), dict):
        return InvoiceApproved.model_validate(payload)
    invoice = {k: v for k, v in payload.items() if k != "purchase_orders"}
    return InvoiceApproved(invoice=invoice, purchase_orders=payload.get("purchase_orders") or [])


def supplier_event(payload: dict[str, Any]) -> dict[str, Any]:
    """The Coupa supplier a record holds; a bare Coupa supplier is read as itself."""
    if isinstance(payload.get("supplier"), dict):
        return SupplierChanged.model_validate(payload).supplier
    return payload


async def settle(
    deps: MapperDeps, conn: Connection, record_id: int, trigger: Trigger
) -> str | None:
    """Bring one record version to its next state; return the outcome, None if nothing changed.

    ``conn`` is the caller's and must not be in a transaction: each pass is one of its own.
    """
    outcome: str | None = None
    while True:
        mark = deps.references.mark()
        settled = await _settle_once(deps, conn, record_id, trigger)
        if settled is None:
            return outcome
        connection, outcome = settled
        if deps.metrics is not None:
            deps.metrics.count(connection, outcome)
        if outcome != "parked" or not deps.references.changed_since(connection, mark):
            return outcome


async def _settle_once(
    deps: MapperDeps, conn: Connection, record_id: int, trigger: Trigger
) -> tuple[str, str] | None:
    """One pass in one transaction: the record's connection and outcome, None if unchanged."""
    async with conn.transaction():
        record = await repo.lock_record(conn, record_id)
        if record is None or record.state not in _OPEN_STATES:
            return None  # posted, flagged, superseded...: the redelivery is already audited
        if record.state == "mapped":
            if trigger.event != "mapped" or record.command is None:
                return None
            await _publish(deps, record, record.command, trigger)
            return record.connection, "republished"
        outcome = await _settle_open(deps, conn, record, trigger)
    return None if outcome is None else (record.connection, outcome)


async def _settle_open(
    deps: MapperDeps, conn: Connection, record: repo.StoredRecord, trigger: Trigger
) -> str | None:
    others = [v for v in await versions(conn, record.record_key) if v.id != record.id]
    newer = [v.version for v in others if is_newer(v.version, record.version)]
    if newer:
        await _move(conn, _at(record), "superseded", trigger, {"by_version": newest(newer)})
        return "superseded"
    for other in others:
        if other.state in _OPEN_STATES:
            older = (other.id, record.record_key)
            await _move(conn, older, "superseded", trigger, {"by_version": record.version})
            if deps.metrics is not None:
                deps.metrics.count(record.connection, "superseded")
    result: MapResult
    if record.kind == "supplier":
        result = await _map_supplier(deps, conn, record)
    else:
        invoice_result, event = await _map(deps, conn, record)
        result = invoice_result
        if event is not None:
            booked = await repo.booked_job(conn, invoice_job_id(record.connection, record.coupa_id))
            if booked is not None and (
                reason := flag_reason(event.invoice, invoice_result, booked)
            ):
                await _move(
                    conn, _at(record), "flagged", trigger, {"reason": reason}, reason=reason
                )
                return "flagged"
    if isinstance(result, Mapped):
        command = result.command.model_dump(mode="json")
        details = {"job_id": result.command.job_id, **_summary(result.command)}
        await _move(
            conn,
            _at(record),
            "mapped",
            trigger,
            details,
            job_id=result.command.job_id,
            command=command,
        )
        await _publish(deps, record, command, trigger)
        return "mapped"
    waits = list(result.waiting_for)
    if record.state == "parked" and (record.parked_reason, record.waiting_for or []) == (
        result.reason,
        waits,
    ):
        return None  # still waiting for the same things: no new audit event on every sweep
    details = {"reasons": list(result.reasons), "waiting_for": waits}
    await _move(
        conn, _at(record), "parked", trigger, details, reason=result.reason, waiting_for=waits
    )
    return "parked"


def _summary(command: PostApInvoice | UpsertVendor) -> dict[str, Any]:
    """What the ``mapped`` audit event says about the command beyond its job id."""
    if isinstance(command, PostApInvoice):
        return {"lines": len(command.lines), "total": str(command.total)}
    return {"firm": command.name, "vendor_number": command.vendor_number}


def _at(record: repo.StoredRecord) -> tuple[int, str]:
    return record.id, record.record_key


async def _map(
    deps: MapperDeps, conn: Connection, record: repo.StoredRecord
) -> tuple[Mapped[PostApInvoice] | Parked, InvoiceApproved | None]:
    try:
        event = invoice_event(record.payload)
    except ValidationError:
        return Parked(("The message carries no readable Coupa invoice",)), None
    settings = await deps.settings_for(conn, record.connection)
    if settings is None:
        return (
            Parked(
                (f"There is no connection named {record.connection} (or it has no settings)",),
                ({"kind": "connection", "coupa_value": record.connection},),
            ),
            event,
        )
    ref = await deps.references.get(conn, record.connection)
    supplier = await repo.latest_supplier(conn, record.connection, supplier_id(event.invoice) or "")
    return map_invoice(event, settings, ref, supplier), event


async def _map_supplier(
    deps: MapperDeps, conn: Connection, record: repo.StoredRecord
) -> Mapped[UpsertVendor] | Parked:
    """Vendor sync's command; stored suppliers of a connection without it are only kept."""
    try:
        supplier = supplier_event(record.payload)
    except ValidationError:
        return Parked(("The message carries no readable Coupa supplier",))
    settings = await deps.settings_for(conn, record.connection)
    if settings is None:
        return Parked((f"There is no connection named {record.connection}",))
    if not settings.mapping.create_vendors:  # turned off since the supplier parked
        return Parked((f"Vendor sync is off for {record.connection} (mapping.create_vendors)",))
    built = build_upsert_vendor(supplier, settings, record.version)
    return built if isinstance(built, Parked) else Mapped(built)


async def _move(
    conn: Connection,
    record: tuple[int, str],
    state: str,
    trigger: Trigger,
    details: dict[str, Any],
    **changes: Any,
) -> None:
    record_id, key = record
    event = trigger.event if state == "mapped" else state
    await transition(
        conn,
        record_id=record_id,
        record_key=key,
        state=state,
        service=SERVICE,
        event=event,
        details={**details, "source": trigger.source, "trace_id": trigger.trace_id},
        coords=trigger.coords,
        **changes,
    )
    log.info("record %s", state, extra={"key": key, "job_id": changes.get("job_id")})


async def _publish(
    deps: MapperDeps, record: repo.StoredRecord, command: dict[str, Any], trigger: Trigger
) -> None:
    envelope = Envelope(
        schema=_SCHEMAS[record.kind],
        connection=record.connection,
        key=record.record_key,
        source=trigger.source,
        trace_id=trigger.trace_id,
        occurred_at=deps.clock(),
        payload=command,
    )
    await deps.publisher.publish(deps.topics.deltek_writes, envelope)
