"""What to do with a new Coupa version of an invoice whose voucher is already in Deltek.

The connector never reverses or changes a voucher by itself: a version that is voided, no longer
maps, or would make a different voucher is flagged for a person. A version that makes the same
voucher (Coupa bumps ``updated-at`` for changes that do not matter to Deltek, such as marking it
exported) goes on as usual and the poster's ledger recognises the job as already booked.
The period is compared as booked: a later version landing in another open period is not a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.mapper.rules.outcome import Mapped, Parked
from services.mapper.rules.resolve import invoice_name
from shared.coupa.models import CoupaInvoiceHeader
from shared.messages import PostApInvoice


@dataclass(frozen=True)
class Booked:
    """The job as the poster's ledger (or, lacking a row, the records) knows it."""

    content_hash: str
    voucher: str | None = None
    period: int | None = None
    command: PostApInvoice | None = None


def flag_reason(
    invoice: dict[str, Any], result: Mapped[PostApInvoice] | Parked, booked: Booked
) -> str | None:
    """None when this version makes the voucher that is booked; else why a person must look.

    ``invoice`` is Coupa's JSON; only what names it and its status are read, which never fails.
    """
    header = CoupaInvoiceHeader.from_api(invoice)
    name = invoice_name(header)
    where = f"Deltek voucher {booked.voucher}" if booked.voucher else "Deltek"
    decide = "a person must decide; nothing was reversed"
    if header.status == "voided":
        return f"Coupa invoice {name} was voided in Coupa after it was posted to {where}; {decide}"
    if isinstance(result, Parked):
        return (
            f"Coupa invoice {name} changed in Coupa after it was posted to {where} and no longer "
            f"maps ({result.reason}); {decide}"
        )
    command = result.command
    assert isinstance(command, PostApInvoice)  # an invoice maps to a voucher
    if booked.period is not None:
        command = command.model_copy(update={"period": booked.period})
    if command.content_hash() == booked.content_hash:
        return None
    changes = _changes(booked.command, command) if booked.command else ""
    return (
        f"Coupa invoice {name} changed in Coupa after it was posted to {where}{changes}; {decide}"
    )


def _changes(old: PostApInvoice, new: PostApInvoice) -> str:
    """The differences a clerk looks for first, e.g. ``: total 541.25 → 600.00``."""
    said = [
        f"{words} {before} → {after}"
        for words, before, after in (
            ("invoice number", old.invoice_number, new.invoice_number),
            ("vendor", old.vendor, new.vendor),
            ("total", old.total, new.total),
            ("lines", len(old.lines), len(new.lines)),
        )
        if before != after
    ]
    return ": " + ", ".join(said) if said else " (line coding or details)"
