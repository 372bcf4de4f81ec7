"""The voucher lines of one invoice: its lines (one per split allocation), charges and tax.

Lines keep Coupa's order. Charges (shipping, handling, misc) go to the GL account the connection
names for their kind; when it names none, to the account Coupa coded on the charge (resolved like
a line); when neither exists the invoice parks. Charges listed in ``invoice-charges`` become one
line each; a header amount with no listed charge becomes one line. Header tax (with line-level
taxation, the sum Coupa puts in the header) becomes one line on the connection's tax account.
Zero charges and zero tax make no line. Amounts are ``Decimal``; on a credit note each is
negative whatever sign Coupa gave it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from services.mapper.rules.coding import Coding, named_account, resolve_coding
from services.mapper.rules.outcome import Problem
from shared.connection_settings import MappingSettings
from shared.coupa.models import (
    Account,
    Allocation,
    CoupaInvoice,
    CoupaInvoiceCharge,
    CoupaInvoiceLine,
    CoupaPurchaseOrder,
    NotAnObject,
)
from shared.reference.view import Reference

Source = Literal["line", "allocation", "charge", "tax"]

# (Coupa charge type, header amount field, settings field, words for a clerk)
CHARGE_KINDS = (
    ("InvoiceShippingCharge", "shipping_amount", "shipping_account", "Shipping"),
    ("InvoiceHandlingCharge", "handling_amount", "handling_account", "Handling"),
    ("InvoiceMiscCharge", "misc_amount", "misc_account", "Miscellaneous charge"),
)


@dataclass(frozen=True)
class Draft:
    """A voucher line before numbering; ``coding`` is None when its account did not resolve."""

    description: str
    amount: Decimal
    source: Source
    coding: Coding | None
    po_number: str | None = None
    coupa_line_id: int | None = None


def signed(amount: Decimal, credit: bool) -> Decimal:
    return -abs(amount) if credit else amount


def split(total: Decimal, weights: Sequence[Decimal], quantum: Decimal) -> list[Decimal]:
    """``total`` shared in proportion to ``weights``, rounded to ``quantum``; exact in sum.

    Every share but the last is rounded; the last takes what is left, so the parts always add up
    to the total to the cent, which Deltek's batch total needs.
    """
    whole = sum(weights, Decimal(0))
    if whole == 0:
        raise ValueError("allocation percentages add up to zero")
    shares = [(total * w / whole).quantize(quantum, ROUND_HALF_EVEN) for w in weights[:-1]]
    return [*shares, total - sum(shares, Decimal(0))]


def build_lines(
    invoice: CoupaInvoice,
    purchase_orders: list[CoupaPurchaseOrder],
    settings: MappingSettings,
    ref: Reference,
    *,
    credit: bool,
    quantum: Decimal,
) -> tuple[list[Draft], list[Problem]]:
    """Every voucher line of ``invoice`` and every problem met on the way (all of them)."""
    problems: list[Problem] = []
    po_by_line = _po_numbers_by_order_line(purchase_orders)
    drafts: list[Draft] = []
    for index, line in enumerate(invoice.invoice_lines, start=1):
        drafts += _invoice_line(line, index, po_by_line, settings, ref, credit, quantum, problems)
    drafts += _charges(invoice, settings, ref, credit, problems)
    drafts += _tax(invoice, settings, ref, credit, problems)
    return drafts, problems


def _po_numbers_by_order_line(purchase_orders: list[CoupaPurchaseOrder]) -> dict[int, str]:
    found: dict[int, str] = {}
    for po in purchase_orders:
        for order_line in po.order_lines:
            po_number = order_line.order_header_number or po.po_number
            if order_line.id is not None and po_number:
                found[order_line.id] = po_number
    return found


def _coded(
    account: Account | NotAnObject | None,
    settings: MappingSettings,
    ref: Reference,
    where: str,
    problems: list[Problem],
) -> Coding | None:
    if account is None:
        problems.append(Problem("Coupa gives no account", where=where))
        return None
    if isinstance(account, NotAnObject):
        problems.append(Problem("Coupa gives an account that is not an object", where=where))
        return None
    coding = resolve_coding(account, settings, ref)
    if isinstance(coding, Coding):
        return coding
    problems += [Problem(p.reason, p.waiting_for, where) for p in coding]
    return None


def _invoice_line(
    line: CoupaInvoiceLine,
    index: int,
    po_by_line: dict[int, str],
    settings: MappingSettings,
    ref: Reference,
    credit: bool,
    quantum: Decimal,
    problems: list[Problem],
) -> list[Draft]:
    where = f"line {line.line_num or index}"
    description = line.description or where.capitalize()
    po_number = line.po_number or line.order_header_num
    if po_number is None and line.order_line_id is not None:
        po_number = po_by_line.get(line.order_line_id)
    if line.total is None:
        problems.append(Problem("Coupa gives no line total", where=where))
        return []
    total = signed(line.total, credit)
    allocations = line.account_allocations
    if not allocations:
        coding = _coded(line.account, settings, ref, where, problems)
        return [Draft(description, total, "line", coding, po_number, line.id)]
    amounts = _allocation_amounts(allocations, total, credit, quantum, where, problems)
    return [
        Draft(
            description,
            amount,
            "allocation",
            _coded(allocation.account, settings, ref, where, problems),
            po_number,
            line.id,
        )
        for allocation, amount in zip(allocations, amounts, strict=True)
    ]


def _allocation_amounts(
    allocations: list[Allocation],
    total: Decimal,
    credit: bool,
    quantum: Decimal,
    where: str,
    problems: list[Problem],
) -> list[Decimal]:
    """Coupa's allocation amounts, or shares by ``pct`` when amounts are missing; they must add
    up to the line total exactly."""
    given = [a.amount for a in allocations]
    if all(amount is not None for amount in given):
        amounts = [signed(amount, credit) for amount in given if amount is not None]
    else:
        weights = [a.pct or Decimal(0) for a in allocations]
        try:
            amounts = split(total, weights, quantum)
        except ValueError:
            problems.append(Problem("Coupa's split allocations carry no amounts", where=where))
            return [Decimal(0)] * len(allocations)
    added = sum(amounts, Decimal(0))
    if added != total:
        problems.append(
            Problem(
                f"Coupa's split allocations add up to {added}, not the line total {total}",
                where=where,
            )
        )
    return amounts


def _charges(
    invoice: CoupaInvoice,
    settings: MappingSettings,
    ref: Reference,
    credit: bool,
    problems: list[Problem],
) -> list[Draft]:
    drafts: list[Draft] = []
    for kind, header_field, setting, words in CHARGE_KINDS:
        charges = [c for c in invoice.invoice_charges if c.type == kind]
        if not charges:
            header: Decimal | None = getattr(invoice, header_field)
            charges = [CoupaInvoiceCharge(total=header)] if header else []
        for charge in charges:
            if not charge.total:
                continue
            where = words.lower()
            named: str | None = getattr(settings, setting)
            if named is not None:
                coding = _named(named, setting, ref, problems)
            elif charge.account is not None:
                coding = _coded(charge.account, settings, ref, where, problems)
            else:
                coding = None
                problems.append(
                    Problem(
                        f"The connection names no Deltek account for {where} "
                        f"(mapping.{setting}) and Coupa codes none on the charge",
                        {"kind": "setting", "coupa_value": f"mapping.{setting}"},
                    )
                )
            description = charge.description or words
            drafts.append(Draft(description, signed(charge.total, credit), "charge", coding))
    return drafts


def _named(account: str, setting: str, ref: Reference, problems: list[Problem]) -> Coding | None:
    coding = named_account(account, setting, ref)
    if isinstance(coding, Problem):
        problems.append(coding)
        return None
    return coding


def _tax(
    invoice: CoupaInvoice,
    settings: MappingSettings,
    ref: Reference,
    credit: bool,
    problems: list[Problem],
) -> list[Draft]:
    tax = invoice.tax_amount
    if tax is None and invoice.line_level_taxation:
        line_taxes = [line.tax_amount for line in invoice.invoice_lines]
        tax = sum((t for t in line_taxes if t is not None), Decimal(0))
    if not tax:
        return []
    coding = None
    if settings.tax_account is None:
        problems.append(
            Problem(
                "The connection names no Deltek account for tax (mapping.tax_account)",
                {"kind": "setting", "coupa_value": "mapping.tax_account"},
            )
        )
    else:
        coding = _named(settings.tax_account, "tax_account", ref, problems)
    description = f"Tax {invoice.tax_rate}%" if invoice.tax_rate else "Tax"
    return [Draft(description, signed(tax, credit), "tax", coding)]
