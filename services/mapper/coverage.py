"""What lacks a mapping: the Coupa values in stored records that do not resolve, and who waits.

Every stored invoice (its newest version) is mapped again against today's maps and cache; each
thing an invoice would wait for is one gap, counted by invoice, with the parked records that
are waiting for it now. Every stored Coupa supplier (newest version) is resolved to a Deltek
vendor the same way, so a supplier no invoice uses yet still shows as lacking one. A supplier
whose vendor is inactive in Deltek is a gap of its own kind (``INACTIVE_VENDOR``): it has a
vendor, which someone must reactivate, rather than none to map.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.mapper import repository as repo
from services.mapper.rules.outcome import Parked, Problem
from services.mapper.rules.resolve import map_invoice
from services.mapper.rules.vendor import INACTIVE_VENDOR, resolve_vendor, supplier_id
from services.mapper.workflow import invoice_event, supplier_event
from shared.connection_settings import ConnectionSettings
from shared.db.pool import Connection
from shared.reference.cache import load_reference


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
    suppliers: int = 0

    def count(self, kind: str) -> int:
        """How many distinct Coupa values of ``kind`` lack a usable Deltek record."""
        return sum(1 for gap in self.gaps if gap.kind == kind)


async def coverage(conn: Connection, settings: ConnectionSettings) -> Coverage:
    ref = await load_reference(conn, settings.name)
    records = await repo.latest_invoices(conn, settings.name)
    gaps: dict[tuple[str, str], Gap] = {}
    for record in records:
        event = invoice_event(record.payload)
        supplier = await repo.latest_supplier(conn, settings.name, supplier_id(event.invoice) or "")
        result = map_invoice(event, settings, ref, supplier)
        if not isinstance(result, Parked):
            continue
        for wait in result.waiting_for:
            gap = _gap(gaps, wait)
            gap.invoices += 1
    suppliers = await repo.latest_suppliers(conn, settings.name)
    for record in suppliers:
        supplier = supplier_event(record.payload)
        found = resolve_vendor(supplier, supplier, ref)
        if isinstance(found, Problem) and found.waiting_for is not None:
            _gap(gaps, found.waiting_for)
    parked = 0
    for record in records:
        if record.state != "parked":
            continue
        parked += 1
        for wait in record.waiting_for or []:
            _gap(gaps, wait).parked.append(record.record_key)
    order = {"supplier": 0, INACTIVE_VENDOR: 1, "account": 2, "project": 3, "pay_terms": 4}
    ranked = sorted(gaps.values(), key=lambda g: (order.get(g.kind, 9), -g.invoices, g.coupa_value))
    return Coverage(len(records), parked, ranked, len(suppliers))


def _gap(gaps: dict[tuple[str, str], Gap], wait: dict[str, str]) -> Gap:
    key = (wait["kind"], wait["coupa_value"])
    if key not in gaps:
        gaps[key] = Gap(wait["kind"], wait["coupa_value"], wait.get("label", ""))
    return gaps[key]
