"""Coupa invoices and a Deltek reference shaped like coupa-api §9.2 and the simulators' seeds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from shared.connection_settings import ConnectionSettings, MappingSettings
from shared.messages import InvoiceApproved
from shared.reference.view import CachedProject, GlAccount, OpenPeriod, Reference, Vendor
from simulators.coupa.records import CAD, GL_ACCOUNTS, USD, Dataset, money

Json = dict[str, Any]
NORTHWIND = {"id": 217, "name": "Northwind Survey Services LLC", "number": "V-00217"}
NORTHWIND_RECORD = {**NORTHWIND, "tax-id": "91-1234567", "status": "active"}
SETTINGS = ConnectionSettings(
    name="acme",
    mapping=MappingSettings(
        shipping_account="642.00",
        handling_account="642.00",
        misc_account="699.00",
        tax_account="215.00",
    ),
)
_accounts = Dataset()


def account(project: str | None = "1001", gl: str = "5200", phase: str | None = "100") -> Json:
    """A Coupa account with all twenty segments (project-gl-phase, the rest null)."""
    if gl in GL_ACCOUNTS and project:
        return dict(_accounts.account(project, gl, phase))
    segments: dict[str, Any] = {f"segment-{n}": None for n in range(1, 21)}
    segments.update({"segment-1": project, "segment-2": gl, "segment-3": phase})
    code = "-".join(p for p in (project, gl, phase) if p)
    return {"id": 1999, "name": code, "code": code, "active": True, **segments}


def line(
    num: int,
    total: str,
    acct: Json | None = None,
    *,
    po: str | None = "4501",
    order_line_id: int | None = None,
    allocations: list[Json] | None = None,
    fields: dict[str, Any] | None = None,
) -> Json:
    return {
        "id": 96000 + num,
        "line-num": num,
        "type": "InvoiceAmountLine",
        "description": f"Survey work item {num}",
        "quantity": None,
        "price": total,
        "total": total,
        "tax-amount": "0.00",
        "order-header-num": po,
        "po-number": po,
        "order-line-id": order_line_id
        if order_line_id is not None
        else (70010 + num if po else None),
        "account": None if allocations else (acct if acct is not None else account()),
        "account-allocations": allocations or [],
        **(fields or {}),
    }


def allocation(amount: str | None, acct: Json, pct: str | None = None) -> Json:
    return {"id": 31000, "account": acct, "amount": amount, "pct": pct, "period": None}


def invoice(
    lines: list[Json],
    *,
    tax: str = "0.00",
    charges: list[Json] | None = None,
    total: str | None = None,
    supplier: Json | None = None,
    fields: dict[str, Any] | None = None,
    **header: Any,
) -> Json:
    """An approved invoice; the total is the lines + charges + tax unless given."""
    added = sum((Decimal(ln["total"]) for ln in lines), Decimal(0))
    added += sum((Decimal(c["total"]) for c in charges or []), Decimal(0)) + Decimal(tax)
    body = {
        "id": 48213,
        "created-at": "2025-03-03T09:14:22-08:00",
        "updated-at": "2025-03-05T16:02:10-08:00",
        "invoice-number": "NWS-100482",
        "invoice-date": "2025-03-01T00:00:00-08:00",
        "status": "approved",
        "document-type": "Invoice",
        "tax-amount": tax,
        "shipping-amount": "0.00",
        "handling-amount": "0.00",
        "misc-amount": "0.00",
        "gross-total": total or money(added),
        "total-with-taxes": total or money(added),
        "currency": USD,
        "payment-term": {"id": 4, "code": "Net 30", "days-for-net-payment": 30},
        "supplier": supplier if supplier is not None else NORTHWIND,
        "invoice-charges": charges or [],
        "tax-lines": [],
        "invoice-lines": lines,
    }
    body.update(header)
    body.update(fields or {})
    return body


def event(inv: Json, purchase_orders: list[Json] | None = None) -> InvoiceApproved:
    return InvoiceApproved(invoice=inv, purchase_orders=purchase_orders or [])


def project(wbs1: str, wbs2: str = "", wbs3: str = "", **kw: Any) -> CachedProject:
    values: dict[str, Any] = {"name": f"Project {wbs1}", "status": "A"}
    values.update({"charge_type": "R", "sub_level": False})
    values.update(kw)
    return CachedProject(wbs1, wbs2, wbs3, **values)


VENDORS = [
    Vendor("c1", "SUMMIT0001", "Summit Survey LLC", "A", "12-3456789"),
    Vendor("c2", "NWS0001", "Northwind Survey Services LLC", "A", "91-1234567"),
    Vendor("c3", "V-00217", "Some Other Name", "A", None),
    Vendor("c4", "OLD0001", "Retired Vendor Inc.", "I", "55-5555555"),
    Vendor("c5", None, "Not A Vendor Firm", "A", None),
]
PROJECTS = [
    project("1001", sub_level=True),
    *(project("1001", ph, name=f"Phase {ph}") for ph in ("100", "200", "300")),
    project("1002"),
    project("1003", status="D"),
    project("1004", status="I"),
    project("1005", charge_type="P"),
    project("1006", charge_type="H", name="Overhead - Administration"),
    project("1007", sub_level=True),
    project("1007", "100", sub_level=True),
    project("1007", "100", "01"),
    project("1008", sub_level=True),
    project("1008", "100", status="I"),
]


def reference(
    *,
    vendors: list[Vendor] | None = None,
    maps: dict[str, dict[str, str]] | None = None,
    periods: list[OpenPeriod] | None = None,
    extra_accounts: list[GlAccount] = (),  # type: ignore[assignment]
) -> Reference:
    """The Deltek side: GL accounts named like Coupa's GL segments plus charge/tax accounts."""
    accounts = [GlAccount(gl, name, "A", "5") for gl, name in GL_ACCOUNTS.items()]
    accounts += [
        GlAccount("642.00", "Field Supplies", "A", "9"),
        GlAccount("699.00", "Miscellaneous Overhead", "A", "9"),
        GlAccount("215.00", "Sales Tax Payable", "A", "2"),
        GlAccount("999.00", "Retired Account", "I", "9"),
        GlAccount("531.00", "Reimbursable Subconsultants", "A", "5"),
        *extra_accounts,
    ]
    if periods is None:
        periods = [
            OpenPeriod(2025_00 + m, date(2025, m, 1), _month_end(2025, m)) for m in range(1, 13)
        ]
    return Reference.build(
        vendors=VENDORS if vendors is None else vendors,
        accounts=accounts,
        projects=PROJECTS,
        open_periods=periods,
        maps=maps or {},
    )


def _month_end(year: int, month: int) -> date:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


__all__ = ["CAD", "USD"]
