"""The AP batch Deltek receives for one ``PostApInvoice``, in Deltek's own key names (pure).

Layout follows deltek-api.md §3.A and the worked example in §8.3: one ``apControl`` batch per
job, holding one ``apMaster`` voucher and one ``apDetail`` per command line. Every key is derived
from the job (``batch_name``, ``master_pkey``, ``line_pkey``), so each attempt, replay or rival
poster sends the same voucher and the look-up before a POST can recognise it.

The voucher number is Vantagepoint's to assign unless the company requires entry of voucher
numbers (§3.D): by default ``Voucher`` is left out and the poster reads the assigned number back;
with ``deltek.voucher_numbers: ours`` it is ``voucher_number(job_id)``, as stable as the rest.

Choices where Deltek's documents are silent:

* ``TransDate`` is the invoice date: the same on every attempt and the date Coupa approved the
  books against; the accounting ``Period`` travels separately on the batch.
* A credit note is booked with negative amounts. The command may carry Coupa's positive
  magnitudes or already negative amounts; a credit note whose total is positive is flipped as a
  whole, so a mixed-sign credit note keeps its lines' relative signs.
* Descriptions are cut to ``DESCRIPTION_MAX`` characters rather than refused. The vendor's
  invoice number is never cut: the PSALedger look-up matches on it.
* ``Address`` is left out so Deltek picks the vendor's default remit-to address.
"""

from __future__ import annotations

from decimal import Decimal

from shared.connection_settings import DeltekPostingSettings
from shared.deltek.keys import batch_name, line_pkey, master_pkey, voucher_number
from shared.deltek.models import ApBatch, ApDetail, ApMaster
from shared.messages import ApLine, PostApInvoice

# Deltek's samples send an empty WBS level as a single space (deltek-api.md §3.A).
BLANK_WBS = " "
# Vantagepoint's AP ledger description (Desc1) is short; 40 is the conservative length (❓).
DESCRIPTION_MAX = 40
CENT = Decimal("0.01")


class VoucherError(ValueError):
    """The command cannot become a voucher as it stands; the message says why in plain words."""


def batch_description(command: PostApInvoice) -> str:
    """What a clerk sees on the batch in Transaction Center and on the posting answer."""
    return _cut(f"Coupa invoice {command.invoice_number}")


def sign_of(command: PostApInvoice) -> int:
    """-1 when the amounts must be flipped to book a credit note negative (module docstring)."""
    return -1 if command.is_credit_note and command.total > 0 else 1


def build_batch(command: PostApInvoice, posting: DeltekPostingSettings) -> ApBatch:
    """The ``POST /DataEntry/apControl`` body; raises ``VoucherError`` when a field is missing
    or the lines do not add up to the total, before anything is sent."""
    missing = [
        text
        for text, value in (
            ("the connection's deltek.liability_code", posting.liability_code),
            ("the connection's deltek.bank_code", posting.bank_code),
            ("payment terms on the invoice or its supplier", command.pay_terms),
            (
                "a pay date for payment terms Date",
                command.pay_date is not None or command.pay_terms != "Date",
            ),
        )
        if not value
    ]
    if missing:
        raise VoucherError("Deltek needs " + " and ".join(missing) + " to enter a voucher")
    if not command.lines:
        raise VoucherError("the invoice has no lines to book")
    sign = sign_of(command)
    total = command.total * sign
    amounts = [line.amount * sign for line in command.lines]
    if sum(amounts, Decimal(0)).quantize(CENT) != total.quantize(CENT):
        raise VoucherError(
            f"the lines add up to {sum(amounts, Decimal(0))} but the invoice total is {total}"
        )
    batch, key = batch_name(command.job_id), master_pkey(command.job_id)
    master = ApMaster(
        Batch=batch,
        MasterPKey=key,
        Seq=1,
        Vendor=command.vendor,
        Invoice=command.invoice_number,
        InvoiceDate=command.invoice_date,
        TransDate=command.invoice_date,
        LiabCode=str(posting.liability_code),
        BankCode=str(posting.bank_code),
        PayTerms=str(command.pay_terms),
        PayDate=command.pay_date if command.pay_terms == "Date" else None,
        Voucher=voucher_number(command.job_id) if posting.voucher_numbers == "ours" else None,
        CurrencyCode=command.currency,
        Status="A",
    )
    details = [
        _detail(command.job_id, batch, key, line, amount)
        for line, amount in zip(command.lines, amounts, strict=True)
    ]
    return ApBatch(
        Batch=batch,
        Description=batch_description(command),
        Period=command.period,
        Company=posting.company,
        DefaultCurrencyCode=command.currency,
        Total=total,
        Posted="N",
        apMaster=[master],
        apDetail=details,
    )


def _detail(job_id: str, batch: str, key: str, line: ApLine, amount: Decimal) -> ApDetail:
    return ApDetail(
        Batch=batch,
        MasterPKey=key,
        PKey=line_pkey(job_id, line.seq),
        Seq=line.seq,
        Description=_cut(line.description) or None,
        WBS1=_wbs(line.wbs1),
        WBS2=_wbs(line.wbs2),
        WBS3=_wbs(line.wbs3),
        Account=line.account,
        Amount=amount,
        NetAmount=amount,  # gross less tax: tax travels on lines of its own
        SuppressBill="N",
        PONumber=line.po_number or None,
    )


def _wbs(value: str | None) -> str:
    return value.strip() if value and value.strip() else BLANK_WBS


def _cut(text: str) -> str:
    return " ".join(text.split())[:DESCRIPTION_MAX]
