"""One reconciliation of one connection's period: read the three sides, classify, store."""

from __future__ import annotations

from dataclasses import dataclass

from services.cli.progress import Step, Tell
from services.cli.reconcile.connector_side import read_booked, read_bookings
from services.cli.reconcile.coupa_side import read_coupa
from services.cli.reconcile.deltek_side import read_entered, read_ledger
from shared.connections.store import load_connection
from shared.coupa import CoupaClient
from shared.db.pool import Connection
from shared.deltek import DeltekClient
from shared.reconcile.classify import classify
from shared.reconcile.model import Finding
from shared.reconcile.results import save_run
from shared.reference.refresh import is_closed
from shared.secrets.keyring import KeyRing

# What a reconciliation counts as it reads (the names the readers tell them by).
STEPS = [
    Step("coupa listed", "listing Coupa's approved invoices"),
    Step("coupa invoices", "reading Coupa invoices"),
    Step("deltek ledger rows", "reading Deltek's AP ledger"),
    Step("deltek batches", "reading the connector's Deltek batches"),
]


@dataclass(frozen=True)
class Reconciliation:
    connection: str
    period: int
    closed: bool
    findings: list[Finding]


async def reconcile(
    db: Connection, ring: KeyRing, name: str, period: int, tell: Tell, *, store: bool = True
) -> Reconciliation:
    """The stored connection's period, with clients of its own; the result is stored unless
    ``store`` is False."""
    connection = await load_connection(db, ring, name)
    column = connection.pipeline_settings().deltek.ledger_invoice_column
    async with (
        CoupaClient(connection.coupa_config()) as coupa,
        DeltekClient(connection.deltek_config()) as deltek,
    ):
        result = await reconcile_with(db, coupa, deltek, name, period, tell, column=column)
    if store:
        await save_run(db, name, period, closed=result.closed, findings=result.findings)
    return result


async def reconcile_with(
    db: Connection,
    coupa: CoupaClient,
    deltek: DeltekClient,
    name: str,
    period: int,
    tell: Tell,
    *,
    column: str | None = None,
) -> Reconciliation:
    """Read the three sides (GETs only to Coupa and Deltek) and classify; ``column`` is the
    tenant's PSALedger invoice column when the connection fixes it."""
    booked = await read_booked(db, name, period)
    coupa_side = await read_coupa(coupa, period, booked.coupa_ids, tell)
    closed = any(p.Period == period and is_closed(p) for p in await deltek.list_periods())
    vouchers = await read_ledger(deltek, period, column, tell)
    # Batches the ledger showed are posted: only the others are asked for one by one.
    in_ledger = {voucher.batch for voucher in vouchers}
    entered, posted_since = await read_entered(
        deltek, [batch for batch in booked.batches if batch not in in_ledger], tell
    )
    vouchers += entered
    for batch in posted_since:
        vouchers += await read_ledger(deltek, period, column, tell, batch=batch)
    ids = {invoice.coupa_id for invoice in coupa_side} | set(booked.coupa_ids)
    bookings = await read_bookings(db, name, ids)
    return Reconciliation(name, period, closed, classify(period, coupa_side, vouchers, bookings))
