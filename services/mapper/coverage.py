"""What lacks a mapping: the Coupa values in stored invoices that do not resolve, and who waits.

Every stored invoice (its newest version) is mapped again against today's maps and cache; each
thing an invoice would wait for is one gap, counted by invoice, with the parked records that
are waiting for it now.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.mapper import repository as repo
from services.mapper.outcome import Parked
from services.mapper.resolve import map_invoice
from services.mapper.values import clean
from services.mapper.workflow import invoice_event
from shared.connection_settings import ConnectionSettings
from shared.db.pool import Connection


@dataclass
class Gap:
    kind: str
    coupa_value: str
    label: str
    invoices: int = 0
    parked: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Coverage:
    invoices: int
    parked: int
    gaps: list[Gap]


async def coverage(conn: Connection, settings: ConnectionSettings) -> Coverage:
    ref = await repo.load_reference(conn, settings.name)
    records = await repo.latest_invoices(conn, settings.name)
    gaps: dict[tuple[str, str], Gap] = {}
    for record in records:
        event = invoice_event(record.payload)
        supplier_id = clean((event.invoice.get("supplier") or {}).get("id"))
        supplier = await repo.latest_supplier(conn, settings.name, supplier_id or "")
        result = map_invoice(event, settings, ref, supplier)
        if not isinstance(result, Parked):
            continue
        for wait in result.waiting_for:
            gap = _gap(gaps, wait)
            gap.invoices += 1
    parked = 0
    for record in records:
        if record.state != "parked":
            continue
        parked += 1
        for wait in record.waiting_for or []:
            _gap(gaps, wait).parked.append(record.record_key)
    order = {"supplier": 0, "account": 1, "project": 2}
    ranked = sorted(gaps.values(), key=lambda g: (order.get(g.kind, 9), -g.invoices, g.coupa_value))
    return Coverage(len(records), parked, ranked)


def _gap(gaps: dict[tuple[str, str], Gap], wait: dict[str, str]) -> Gap:
    key = (wait["kind"], wait["coupa_value"])
    if key not in gaps:
        gaps[key] = Gap(wait["kind"], wait["coupa_value"], wait.get("label", ""))
    return gaps[key]
