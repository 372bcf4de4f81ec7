"""Deltek's side of a period, in bounded reads: the posted AP ledger of the period (one paged
``PSALedger/AP`` listing filtered on ``Period``, deltek-api.md §3.C/§5), and the vouchers still
in data entry of the batches the connector created for the period (``apControl``, then
``apMaster``/``apDetail`` of each unposted one; §3.D). A voucher keyed by hand is seen once
posted: Vantagepoint lists no data-entry vouchers across batches but ``allLanding`` (🟡).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from services.cli.progress import Tell
from shared.deltek import DeltekClient, LedgerRow
from shared.deltek.models import ApDetail
from shared.deltek.query import FilterHash
from shared.http import FatalError
from shared.reconcile.model import DeltekVoucher, Line
from shared.tenant_facts import LEDGER_INVOICE_CANDIDATES


class LedgerFilterError(FatalError):
    """PSALedger answered rows of other periods: the filter was not applied, so no answer."""


def _text(value: object) -> str:
    return str(value or "").strip()


def _line(account: object, wbs: Sequence[object], amount: Decimal | None) -> Line:
    wbs1, wbs2, wbs3 = (_text(level) for level in wbs)
    return Line(_text(account), wbs1, wbs2, wbs3, amount or Decimal(0))


def invoice_of(row: LedgerRow, column: str | None) -> str:
    """The vendor's invoice on a ledger row: the tenant's column when known, else the first
    of the columns tenants were seen to use that the row has."""
    extra = row.model_extra or {}
    for name in (column,) if column else LEDGER_INVOICE_CANDIDATES:
        if name and (value := extra.get(name, getattr(row, name, None))):
            return _text(value)
    return ""


async def read_ledger(
    deltek: DeltekClient, period: int, column: str | None, tell: Tell, *, batch: str | None = None
) -> list[DeltekVoucher]:
    """The posted vouchers of ``period`` (of one ``batch`` only, when given): its ledger rows
    grouped by batch and voucher."""
    where = FilterHash().where("Period", period)
    if batch is not None:
        where = where.where("Batch", batch)
    rows: dict[tuple[str, str], list[LedgerRow]] = defaultdict(list)
    async for row in deltek.iter_ap_ledger(where):
        if row.Period != period:
            raise LedgerFilterError(
                f"PSALedger/AP answered a row of period {row.Period} for a filter on {period}",
                status=200,
            )
        if batch is not None and _text(row.Batch) != batch.strip():
            raise LedgerFilterError(
                f"PSALedger/AP answered a row of batch {row.Batch} for a filter on {batch}",
                status=200,
            )
        rows[(_text(row.Batch), _text(row.Voucher))].append(row)
        tell("deltek ledger rows", 1)
    return [
        DeltekVoucher(
            batch=batch,
            voucher=voucher or None,
            vendor=_text(group[0].Vendor),
            invoice=invoice_of(group[0], column),
            period=period,
            posted=True,
            currency=_text((group[0].model_extra or {}).get("CurrencyCode")) or None,
            lines=tuple(_line(r.Account, (r.WBS1, r.WBS2, r.WBS3), r.Amount) for r in group),
        )
        for (batch, voucher), group in rows.items()
    ]


async def read_entered(
    deltek: DeltekClient, batches: Iterable[str], tell: Tell
) -> tuple[list[DeltekVoucher], list[str]]:
    """The vouchers of the connector's ``batches`` (those the ledger read did not show) that
    are still in data entry, and the batches found posted since that read, whose ledger rows
    the caller reads again: a batch posted in between is then in neither list otherwise."""
    found: list[DeltekVoucher] = []
    posted_since: list[str] = []
    for batch in batches:
        control = await deltek.get_ap_batch(batch)
        tell("deltek batches", 1)
        if control is None:
            continue
        if control.Posted == "Y":
            posted_since.append(batch)
            continue
        lines: dict[str, list[ApDetail]] = defaultdict(list)
        for detail in await deltek.list_ap_lines(batch):
            lines[detail.MasterPKey].append(detail)
        found += [
            DeltekVoucher(
                batch=batch,
                voucher=master.Voucher,
                vendor=_text(master.Vendor),
                invoice=_text(master.Invoice),
                period=control.Period,
                posted=False,
                currency=master.CurrencyCode or control.DefaultCurrencyCode,
                lines=tuple(
                    _line(d.Account, (d.WBS1, d.WBS2, d.WBS3), d.Amount)
                    for d in lines[master.MasterPKey]
                ),
            )
            for master in await deltek.list_ap_vouchers(batch)
        ]
    return found, posted_since
