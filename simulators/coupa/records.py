"""Record vocabulary of the Coupa simulator: constants, money and time formats, the data set."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

Record = dict[str, Any]
CENT = Decimal("0.01")
COA = {"id": 3, "name": "Acme Engineering COA"}
USD = {"id": 1, "code": "USD", "decimals": 2}
CAD = {"id": 2, "code": "CAD", "decimals": 2}
US = {"id": 223, "code": "US", "name": "United States"}
CA = {"id": 38, "code": "CA", "name": "Canada"}
NET30 = {
    "id": 4,
    "code": "Net 30",
    "description": "Net 30 days",
    "days-for-net-payment": 30,
    "days-for-discount-payment": None,
    "discount-rate": None,
    "active": True,
}
AP_CLERK = {
    "id": 12,
    "login": "ap.clerk",
    "email": "ap@acme.example",
    "employee-number": None,
    "firstname": "AP",
    "lastname": "Clerk",
}
GL_ACCOUNTS = {
    "5200": "Subconsultants",
    "5300": "Reimbursables",
    "5400": "Travel",
    "5500": "Equipment Rental",
    "5600": "Printing and Reprographics",
    "6100": "Software Subscriptions",
    "6200": "Office Supplies",
    "6300": "Utilities",
}
PHASES = {"100": "Schematic Design", "200": "Design Development", "300": "Construction Admin"}


def money(value: Decimal) -> str:
    """Coupa serialises amounts as strings (coupa-api.md §3.6)."""
    return str(value.quantize(CENT))


def stamp(moment: datetime) -> str:
    """ISO 8601 with offset, second precision, as Coupa writes datetimes (§3.6)."""
    return moment.replace(microsecond=0).isoformat()


@dataclass
class Dataset:
    """All seeded records keyed by id, plus the next free id per kind."""

    suppliers: dict[int, Record] = field(default_factory=dict)
    purchase_orders: dict[int, Record] = field(default_factory=dict)
    invoices: dict[int, Record] = field(default_factory=dict)
    accounts: dict[str, Record] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)
    # Set once seeded: every id made afterwards is above it (``CoupaSimOptions.ids_above``).
    ids_above: int = 0

    def new_id(self, kind: str, start: int) -> int:
        """Sequential ids per kind, starting at ``start``; realistic ids are not 1, 2, 3."""
        value = max(self.next_ids.get(kind, start), self.ids_above + 1)
        self.next_ids[kind] = value + 1
        return value

    def account(self, project: str, gl: str, phase: str | None) -> Record:
        """The Coupa account for project-gl-phase (segments 1..3; 4..20 null), made on first use."""
        code = "-".join(part for part in (project, gl, phase) if part)
        if code not in self.accounts:
            segments: dict[str, str | None] = {f"segment-{n}": None for n in range(1, 21)}
            segments.update({"segment-1": project, "segment-2": gl, "segment-3": phase})
            self.accounts[code] = {
                "id": self.new_id("account", 1400),
                "name": f"{project} - {GL_ACCOUNTS[gl]}",
                "code": code,
                "active": True,
                **segments,
                "account-type": COA,
            }
        return self.accounts[code]
