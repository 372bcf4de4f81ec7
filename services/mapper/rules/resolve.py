"""Map one approved Coupa invoice to a Deltek AP voucher command, or park it with every reason.

Pure: no I/O. The caller passes the connection's settings, a :class:`Reference` over the Deltek
cache and explicit maps, and the stored Coupa supplier record (for the tax-id match).

Choices where the design was silent:
- The transaction date is the moment this version was approved, taken as its ``updated-at``
  (Coupa's shallow invoice carries no approval timestamp); the invoice date stands in when it is
  missing. The period is the open one containing that date, else the earliest open one after it.
- Coupa's total is ``total-with-taxes``, else ``gross-total``; the lines must add up to it
  exactly (``Decimal``, no tolerance).
- A credit note is ``document-type`` "Credit Note" or a negative total; every amount and the
  total are made negative. A credit note whose lines carry mixed signs then fails the totals
  check and parks, which is what a person should look at.
- An invoice in any status but ``approved`` parks with its status in words; the handler turns
  that into a flag when the job was already posted.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.mapper.rules.lines import Draft, build_lines, signed
from services.mapper.rules.outcome import Mapped, Parked, Problem
from services.mapper.rules.pay_terms import translate
from services.mapper.rules.vendor import vendor_for
from shared.connection_settings import ConnectionSettings
from shared.coupa.models import CoupaInvoice, CoupaInvoiceHeader, CoupaPurchaseOrder, CoupaSupplier
from shared.kafka.envelope import record_key
from shared.messages import ApLine, InvoiceApproved, PostApInvoice, invoice_job_id
from shared.reference.view import Reference


def invoice_name(invoice: CoupaInvoiceHeader) -> str:
    """How a clerk knows an invoice: its number, else its Coupa id."""
    return invoice.invoice_number or f"with Coupa id {invoice.id}"


def is_credit_note(invoice: CoupaInvoice) -> bool:
    if invoice.document_type == "Credit Note":
        return True
    total = coupa_total(invoice)
    return total is not None and total < 0


def coupa_total(invoice: CoupaInvoice) -> Decimal | None:
    total = invoice.total_with_taxes
    return total if total is not None else invoice.gross_total


def map_invoice(
    event: InvoiceApproved,
    settings: ConnectionSettings,
    ref: Reference,
    supplier: dict[str, Any] | None,
) -> Mapped[PostApInvoice] | Parked:
    """The voucher command for ``event``, or why it parks; ``supplier`` is the stored Coupa
    supplier record. The event keeps Coupa's JSON as sent (for the audit trail and replays), so
    it is read into the models here, where it is used."""
    header = CoupaInvoiceHeader.from_api(event.invoice)
    if header.status not in (None, "approved"):
        return Parked((_status_reason(header),))
    record = CoupaSupplier.from_api(supplier) if supplier is not None else None
    try:
        invoice = CoupaInvoice.from_api(event.invoice)
        orders = [CoupaPurchaseOrder.from_api(order) for order in event.purchase_orders]
        return _map(invoice, orders, settings, ref, record)
    except (ValueError, ArithmeticError) as exc:  # UnreadableError; a Decimal out of range
        return Parked((f"Coupa invoice {invoice_name(header)} has an unreadable value: {exc}",))


def _status_reason(invoice: CoupaInvoiceHeader) -> str:
    name = invoice_name(invoice)
    status = invoice.status or ""
    if status == "voided":
        return f"Coupa invoice {name} was voided in Coupa before it was posted; nothing was sent"
    return (
        f"Coupa invoice {name} is {status.replace('_', ' ')} in Coupa, not approved; "
        "it goes on when an approved version arrives"
    )


def _map(
    invoice: CoupaInvoice,
    orders: list[CoupaPurchaseOrder],
    settings: ConnectionSettings,
    ref: Reference,
    supplier: CoupaSupplier | None,
) -> Mapped[PostApInvoice] | Parked:
    name = invoice_name(invoice)
    problems: list[Problem] = []

    coupa_id = invoice.id
    number = invoice.invoice_number
    invoice_at = invoice.invoice_date
    approved_at = invoice.updated_at
    currency = invoice.currency.code if invoice.currency else None
    for missing, words in (
        (coupa_id is None, "no Coupa id"),
        (number is None, "no invoice number"),
        (invoice_at is None, "no invoice date"),
        (currency is None, "no currency"),
    ):
        if missing:
            problems.append(Problem(f"Coupa invoice {name} has {words}"))

    vendor = vendor_for(invoice.supplier, supplier, ref)
    if isinstance(vendor, Problem):
        problems.append(vendor)

    # The invoice's own term, else its supplier's (Coupa copies one onto the other, not always).
    terms = translate(
        invoice.payment_term or (supplier.payment_term if supplier else None),
        settings.mapping,
        owner=f"Coupa invoice {name}",
        invoice_date=invoice_at.date() if invoice_at else None,
    )
    if isinstance(terms, Problem):
        problems.append(terms)

    credit = is_credit_note(invoice)
    decimals = invoice.currency.decimals if invoice.currency else None
    places = decimals if decimals is not None and decimals <= 4 else 2
    quantum = Decimal(1).scaleb(-places)
    drafts, line_problems = build_lines(
        invoice, orders, settings.mapping, ref, credit=credit, quantum=quantum
    )
    problems += line_problems
    if not drafts:
        problems.append(Problem(f"Coupa invoice {name} has no lines"))

    moment = approved_at or invoice_at
    day = moment.date() if moment else None
    period = ref.period_for(day) if day else None
    if day is not None and period is None:
        month = day.strftime("%Y-%m")
        problems.append(
            Problem(f"No open Deltek period for {month}", {"kind": "period", "coupa_value": month})
        )

    total = coupa_total(invoice)
    added = sum((d.amount for d in drafts), Decimal(0))
    if total is None:
        problems.append(Problem(f"Coupa invoice {name} has no total (total-with-taxes)"))
    elif (total := signed(total, credit)) != added:
        problems.append(
            Problem(f"Coupa's total for invoice {name} is {total} but its lines add up to {added}")
        )

    if (
        problems
        or isinstance(vendor, Problem)
        or isinstance(terms, Problem)
        or period is None
        or coupa_id is None
        or number is None
        or invoice_at is None
        or currency is None
        or total is None
    ):
        return Parked.of(problems)
    command = PostApInvoice(
        job_id=invoice_job_id(settings.name, coupa_id),
        connection=settings.name,
        record_key=record_key(settings.name, "invoice", coupa_id),
        coupa_id=coupa_id,
        coupa_version=invoice.version,
        invoice_number=number,
        vendor=str(vendor.vendor),
        invoice_date=invoice_at.date(),
        period=period.period,
        currency=currency,
        pay_terms=terms.terms,
        pay_date=terms.pay_date,
        is_credit_note=credit,
        total=total,
        lines=tuple(_ap_line(seq, draft) for seq, draft in enumerate(drafts, start=1)),
        approved_at=approved_at,
    )
    return Mapped(command)


def _ap_line(seq: int, draft: Draft) -> ApLine:
    assert draft.coding is not None  # drafts without coding always came with a problem
    return ApLine(
        seq=seq,
        description=draft.description,
        account=draft.coding.account,
        wbs1=draft.coding.wbs1,
        wbs2=draft.coding.wbs2,
        wbs3=draft.coding.wbs3,
        amount=draft.amount,
        po_number=draft.po_number,
        source=draft.source,
        coupa_line_id=draft.coupa_line_id,
    )
