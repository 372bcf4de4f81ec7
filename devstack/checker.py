"""An independent check of what Deltek holds against what Coupa approved.

It reads only the two simulators' own state and the connection's explicit maps (configuration,
not bookkeeping): each approved invoice must be in Deltek exactly once, on the mapped vendor,
under its invoice number, carrying its PO numbers, with lines that add up to Coupa's total.
The demo, the end-to-end tests and the chaos run all judge with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from shared.deltek.keys import batch_name
from shared.messages import invoice_job_id


@dataclass
class Verdict:
    approved: int
    posted: int
    duplicates: int
    parked: int
    failed: int
    problems: list[str]
    label: str = "demo"

    @property
    def ok(self) -> bool:
        return self.posted == self.approved and not (
            self.duplicates or self.parked or self.failed or self.problems
        )

    def line(self) -> str:
        return (
            f"{self.label}: {self.approved} approved, {self.posted} posted, "
            f"{self.duplicates} duplicates, {self.parked} parked, {self.failed} failed"
        )


async def supplier_map(database_url: str, connection: str) -> dict[str, str]:
    """The connection's explicit supplier maps: Coupa supplier number to Deltek vendor."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT coupa_value, deltek_value FROM mappings WHERE connection = $1 AND kind = $2",
            connection,
            "supplier",
        )
    finally:
        await conn.close()
    return {row["coupa_value"]: row["deltek_value"] for row in rows}


def judge(
    connection: str,
    invoices: list[dict[str, Any]],
    states: dict[str, str],
    batches: list[dict[str, Any]],
    supplier_map: dict[str, str],
    *,
    label: str = "demo",
) -> Verdict:
    """Compare what Deltek holds with what Coupa approved, invoice by invoice."""
    by_batch: dict[str, list[dict[str, Any]]] = {}
    for batch in batches:
        by_batch.setdefault(batch["Batch"], []).append(batch)
    booked = Counter(
        (master.get("Vendor"), master.get("Invoice"))
        for batch in batches
        for master in batch.get("apMaster") or []
    )
    posted = duplicates = 0
    problems: list[str] = []
    for invoice in invoices:
        number = invoice["invoice-number"]
        job = invoice_job_id(connection, invoice["id"])
        found = by_batch.get(batch_name(job), [])
        vendor = supplier_map.get(str(invoice["supplier"]["number"]))
        copies = booked.get((vendor, number), 0)
        if copies > 1 or len(found) > 1:
            duplicates += 1
        if not found:
            continue
        posted += 1
        problems += _compare(invoice, found[0], vendor)
    counts = Counter(states.values())
    return Verdict(
        len(invoices), posted, duplicates, counts["parked"], counts["failed"], problems, label
    )


def _compare(invoice: dict[str, Any], batch: dict[str, Any], vendor: str | None) -> list[str]:
    number = invoice["invoice-number"]
    masters = batch.get("apMaster") or []
    details = batch.get("apDetail") or []
    problems = []
    if len(masters) != 1 or masters[0].get("Vendor") != vendor:
        booked_vendor = masters[0].get("Vendor") if masters else None
        problems.append(f"{number}: vendor {booked_vendor}, expected {vendor}")
    if masters and masters[0].get("Invoice") != number:
        problems.append(f"{number}: booked as invoice {masters[0].get('Invoice')}")
    total = Decimal(str(invoice["total-with-taxes"]))
    expected = -abs(total) if invoice.get("document-type") == "Credit Note" else total
    booked_total = sum((Decimal(str(d["Amount"])) for d in details), Decimal(0))
    if booked_total != expected:
        problems.append(f"{number}: lines add up to {booked_total}, Coupa's total is {expected}")
    cited = {str(line["po-number"]) for line in invoice["invoice-lines"] if line.get("po-number")}
    carried = {str(d["PONumber"]) for d in details if d.get("PONumber")}
    if cited != carried:
        problems.append(f"{number}: PO numbers {sorted(carried)}, Coupa cites {sorted(cited)}")
    return problems
