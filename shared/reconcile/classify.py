"""Sorts every invoice of a period into one class, from three inputs (pure: no I/O).

Which invoices belong to the period:

- a Coupa invoice the connector booked belongs to the period it was booked in;
- one it did not book belongs to the month of the day it was approved (its ``updated-at`` in
  Coupa's offset, the day the mapper picks the period from), if Coupa says it is approved;
- any Coupa invoice that a voucher of the period carries (same vendor and invoice number, or in
  the connector's own batch for it) belongs to the period too, so no voucher is left unexplained.

A voucher is the Coupa invoice's when it has the vendor the connector sent and the invoice number,
or when it is in the batch the connector created for the invoice (a clerk may have changed the
vendor there). What is left of the period's vouchers was keyed by hand: not from Coupa.

The checks run in this order, the first that holds deciding: no voucher (missing in Deltek,
with the connector's state and reason); more than one (posted twice); voided or no longer
approved in Coupa, flagged by the connector, or a Coupa total that is no longer the one booked
(changed in Coupa after posting); then the voucher against what was sent: vendor, total against
Coupa's, lines against the command's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from shared.reconcile.model import Booking, CoupaSide, DeltekVoucher, Finding, Kind

Key = tuple[str, str]


def month_of(period: int) -> tuple[int, int]:
    """``202612`` → ``(2026, 12)``."""
    return divmod(period, 100)


def _key(vendor: str, invoice: str) -> Key:
    return vendor.strip(), invoice.strip()


def _in_month(invoice: CoupaSide, period: int) -> bool:
    day = invoice.approved_on
    return day is not None and (day.year, day.month) == month_of(period)


class _Vouchers:
    """The period's vouchers, looked up by vendor and invoice or by batch, each claimed once."""

    def __init__(self, vouchers: Iterable[DeltekVoucher]) -> None:
        self.all = list(vouchers)
        self._by_key: dict[Key, list[int]] = defaultdict(list)
        self._by_batch: dict[str, list[int]] = defaultdict(list)
        for index, voucher in enumerate(self.all):
            self._by_key[_key(voucher.vendor, voucher.invoice)].append(index)
            self._by_batch[voucher.batch].append(index)
        self.claimed: set[int] = set()

    def of(self, invoice: CoupaSide, booking: Booking | None) -> list[int]:
        """The unclaimed vouchers that are ``invoice``'s; claiming them is the caller's."""
        vendor = booking.vendor if booking else None
        number = (booking.invoice_number if booking else None) or invoice.invoice_number
        found = list(self._by_key.get(_key(vendor, number), [])) if vendor else []
        if booking and booking.batch:
            found += [i for i in self._by_batch.get(booking.batch, []) if i not in found]
        # Two Coupa invoices may share vendor and number (a duplicate in Coupa): one voucher
        # answers for one of them only, never for both.
        return [i for i in found if i not in self.claimed]


def classify(
    period: int,
    coupa: Sequence[CoupaSide],
    deltek: Sequence[DeltekVoucher],
    connector: Mapping[int, Booking],
) -> list[Finding]:
    """One finding per invoice of ``period``, then one per voucher of it no invoice has."""
    vouchers = _Vouchers(deltek)
    findings: list[Finding] = []
    for invoice in sorted(coupa, key=lambda inv: inv.coupa_id):
        booking = connector.get(invoice.coupa_id)
        found = vouchers.of(invoice, booking)
        in_period = (
            booking.period == period
            if booking is not None and booking.period is not None
            else invoice.status == "approved" and _in_month(invoice, period)
        )
        if not in_period and not found:
            continue
        if not found and invoice.status != "approved":
            continue  # never booked and no longer payable: nothing to reconcile
        vouchers.claimed.update(found)
        findings.append(_judge(invoice, booking, [vouchers.all[i] for i in found]))
    for index, voucher in enumerate(vouchers.all):
        if index not in vouchers.claimed and voucher.period in (period, None):
            findings.append(_by_hand(voucher))
    return findings


def _judge(invoice: CoupaSide, booking: Booking | None, found: list[DeltekVoucher]) -> Finding:
    def finding(kind: Kind, detail: str) -> Finding:
        vendor = (booking.vendor if booking else None) or invoice.supplier
        return Finding(
            kind=kind,
            invoice_number=invoice.invoice_number,
            vendor=vendor or "",
            coupa_id=invoice.coupa_id,
            coupa_amount=invoice.total,
            deltek_amount=found[0].total if len(found) == 1 else None,
            currency=invoice.currency,
            vouchers=tuple(v.ref for v in found),
            connector_state=booking.state if booking else None,
            detail=detail,
        )

    if not found:
        return finding(Kind.MISSING_IN_DELTEK, _why_missing(booking))
    if len(found) > 1:
        states = ", ".join("posted" if v.posted else "entered" for v in found)
        return finding(Kind.POSTED_TWICE, f"{len(found)} vouchers for one invoice ({states})")
    (voucher,) = found
    changed = _changed(invoice, booking)
    if changed:
        return finding(Kind.CHANGED_IN_COUPA, changed)
    if booking and booking.vendor and voucher.vendor.strip() != booking.vendor.strip():
        return finding(
            Kind.VENDOR_MISMATCH,
            f"Deltek has vendor {voucher.vendor.strip()}, {booking.vendor} was sent",
        )
    if invoice.total is not None and voucher.total != invoice.total:
        return finding(
            Kind.AMOUNT_MISMATCH, f"Deltek's total differs by {voucher.total - invoice.total}"
        )
    if booking and booking.lines and sorted(voucher.lines) != sorted(booking.lines):
        return finding(Kind.LINE_MISMATCH, "Deltek's lines differ from those sent")
    return finding(Kind.MATCHED, "")


def _changed(invoice: CoupaSide, booking: Booking | None) -> str:
    """Why the invoice no longer is what was booked, or "" when it still is."""
    if invoice.status != "approved":
        return f"{invoice.status} in Coupa after it reached Deltek"
    if booking is None:
        return ""
    if booking.state == "flagged":
        return "changed in Coupa after posting (flagged by the connector)"
    if booking.total is not None and invoice.total is not None and invoice.total != booking.total:
        return f"Coupa's total is now {invoice.total}, {booking.total} was booked"
    return ""


def _why_missing(booking: Booking | None) -> str:
    if booking is None:
        return "the connector has no record of it"
    return f"connector: {booking.state}" + (f": {booking.reason}" if booking.reason else "")


def _by_hand(voucher: DeltekVoucher) -> Finding:
    return Finding(
        kind=Kind.NOT_FROM_COUPA,
        invoice_number=voucher.invoice.strip(),
        vendor=voucher.vendor.strip(),
        deltek_amount=voucher.total,
        currency=voucher.currency,
        vouchers=(voucher.ref,),
        detail="keyed in Deltek: no Coupa invoice has it",
    )
