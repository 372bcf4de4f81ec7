"""Builds Coupa invoice records (lines, allocations, charges, tax, credit notes) in JSON form."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from simulators.coupa.records import AP_CLERK, CENT, COA, NET30, Record, money, stamp

if TYPE_CHECKING:
    from simulators.coupa.seed import Seeder

_CHARGE_TYPES = (
    ("InvoiceShippingCharge", "shipping-amount"),
    ("InvoiceHandlingCharge", "handling-amount"),
    ("InvoiceMiscCharge", "misc-amount"),
)


def _allocations(seeder: Seeder, total: Decimal) -> list[Record]:
    """Split accounting: 60/40 over two project accounts, amounts adding up to the cent."""
    first = (total * Decimal("0.6")).quantize(CENT)
    return [
        {
            "id": seeder.data.new_id("allocation", 31000),
            "account": seeder.random_account(),
            "amount": money(part),
            "pct": pct,
            "period": None,
        }
        for part, pct in ((first, "60.0"), (total - first, "40.0"))
    ]


def _line(seeder: Seeder, num: int, po_line: Record | None, sign: int, currency: Record) -> Record:
    rng = seeder.rng
    if po_line is not None:
        quantity = po_line["quantity"]
        price = Decimal(po_line["price"])
        account = po_line["account"]
        description = po_line["description"]
    else:
        quantity = f"{rng.randrange(1, 12)}.0" if rng.random() < 0.5 else None
        price = seeder.amount(20, 1500)
        account = seeder.random_account()
        description = f"Non-PO expense {num}"
    total = sign * (price * Decimal(quantity) if quantity else price)
    split = rng.random() < 0.1
    return {
        "id": seeder.data.new_id("invoice_line", 96000),
        "line-num": num,
        "type": "InvoiceQuantityLine" if quantity else "InvoiceAmountLine",
        "description": description,
        "quantity": quantity,
        "price": money(price),
        "total": money(total),
        "accounting-total": money(total),
        "status": "matched" if po_line else "approved",
        "tax-amount": "0.00",
        "tax-rate": None,
        "tax-description": None,
        "order-header-num": po_line["order-header-number"] if po_line else None,
        "po-number": po_line["order-header-number"] if po_line else None,
        "order-line-id": po_line["id"] if po_line else None,
        "order-line-num": po_line["line-num"] if po_line else None,
        "uom": {"id": 7, "code": "DAY", "name": "Day"} if quantity else None,
        "currency": currency,
        "accounting-total-currency": currency,
        "account": None if split else account,
        "account-allocations": _allocations(seeder, total) if split else [],
        "commodity": {"id": 41, "name": "Professional Services"},
        "period": None,
        "tax-lines": [],
    }


def _apply_line_tax(lines: list[Record], rate: Decimal) -> Decimal:
    """Line-level taxation: each line carries its own tax amount and tax line."""
    total_tax = Decimal(0)
    for line in lines:
        tax = (Decimal(line["total"]) * rate / 100).quantize(CENT)
        total_tax += tax
        line.update({"tax-amount": money(tax), "tax-rate": float(rate)})
        line["tax-lines"] = [
            {"amount": money(tax), "rate": float(rate), "code": "ST", "description": "Sales tax"}
        ]
    return total_tax


def build_invoice(
    seeder: Seeder, supplier: Record, po: Record | None, status: str, moment: datetime
) -> Record:
    """One invoice for ``supplier`` (PO-backed when ``po`` is given) in ``status`` at ``moment``."""
    rng, data = seeder.rng, seeder.data
    iid = data.new_id("invoice", 48000)
    credit = rng.random() < 0.08
    sign = -1 if credit else 1
    currency = supplier["currency"]
    if po is not None:
        po_lines = po["order-lines"][: rng.randrange(1, len(po["order-lines"]) + 1)]
        lines = [_line(seeder, n + 1, pl, sign, currency) for n, pl in enumerate(po_lines)]
    else:
        lines = [_line(seeder, n + 1, None, sign, currency) for n in range(rng.randrange(1, 21))]
    net = sum((Decimal(line["total"]) for line in lines), Decimal(0))
    charges: list[Record] = []
    amounts = {key: Decimal(0) for _, key in _CHARGE_TYPES}
    if not credit and rng.random() < 0.25:
        for n, (kind, key) in enumerate(rng.sample(_CHARGE_TYPES, rng.randrange(1, 4))):
            amount = seeder.amount(5, 250)
            amounts[key] = amount
            charges.append(
                {
                    "id": data.new_id("charge", 52000),
                    "type": kind,
                    "line-num": len(lines) + n + 1,
                    "description": key.removesuffix("-amount").title(),
                    "total": money(amount),
                    "account": seeder.random_account(),
                }
            )
    tax_mode = rng.choice(("none", "none", "header", "line"))
    rate = Decimal("8.25")
    if tax_mode == "line":
        tax = _apply_line_tax(lines, rate)
    elif tax_mode == "header":
        tax = ((net + sum(amounts.values())) * rate / 100).quantize(CENT)
    else:
        tax = Decimal(0)
    gross = net + sum(amounts.values()) + tax
    exported = status in {"approved", "voided"} and rng.random() < 0.4
    created = moment - timedelta(days=rng.randrange(1, 10))
    remit = dict(rng.choice(supplier["remit-to-addresses"]))
    return {
        "id": iid,
        "created-at": stamp(created),
        "updated-at": stamp(moment),
        "invoice-number": f"{supplier['number'][2:]}-{iid}{'-CR' if credit else ''}",
        "invoice-date": stamp(created.replace(hour=0, minute=0, second=0)),
        "status": status,
        "document-type": "Credit Note" if credit else "Invoice",
        "original-invoice-number": f"{supplier['number'][2:]}-{iid - 7}" if credit else None,
        "exported": exported,
        "last-exported-at": stamp(moment) if exported else None,
        "paid": False,
        "payment-date": None,
        "line-level-taxation": tax_mode == "line",
        "tax-rate": float(rate) if tax_mode == "header" else None,
        "tax-amount": money(tax),
        **{key: money(value) for key, value in amounts.items()},
        "discount-amount": None,
        "gross-total": money(gross),
        "total-with-taxes": money(gross),
        "supplier-total": money(gross),
        "amount-due": money(gross),
        "net-due-date": stamp(created + timedelta(days=30)),
        "currency": currency,
        "account-type": COA,
        "payment-term": NET30,
        "supplier": {k: supplier[k] for k in ("id", "name", "display-name", "number")},
        "remit-to-address": remit,
        "requested-by": AP_CLERK,
        "created-by": AP_CLERK,
        "updated-by": AP_CLERK,
        "custom-fields": {"cf-erp-invoice-number": None, "cf-integration-status": None},
        "invoice-charges": charges,
        "tax-lines": [],
        "attachments": [],
        "payments": [],
        "invoice-lines": lines,
    }
