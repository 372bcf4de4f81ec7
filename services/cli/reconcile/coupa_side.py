"""Coupa's side of a period: the approved invoices of its month, and every invoice the connector
booked in it, whatever its status now (paged, within the client's rate limit).

The month is listed with a day's margin on each side, identities only, and each invoice is then
fetched a page of ids at a time: an invoice approved near midnight in Coupa's offset is judged
by its own day (``classify``), and a listing of ids costs a few bytes per invoice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from services.cli.progress import Tell
from services.mapper.rules.lines import signed
from services.mapper.rules.resolve import coupa_total, is_credit_note
from shared.coupa import CoupaClient
from shared.coupa.models import CoupaInvoice
from shared.reconcile.classify import month_of
from shared.reconcile.model import CoupaSide

MARGIN = timedelta(days=1)


def month_window(period: int) -> tuple[datetime, datetime]:
    """The instants ``[start, end)`` of the period's month in UTC, widened by ``MARGIN``."""
    year, month = month_of(period)
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start - MARGIN, end + MARGIN


async def read_coupa(
    coupa: CoupaClient, period: int, booked: Iterable[int], tell: Tell
) -> list[CoupaSide]:
    """Approved invoices approved around the month, plus the ``booked`` ids, each once."""
    since, until = month_window(period)
    ids: dict[int, None] = {}
    async for page in coupa.list_changed(
        "invoices", since, until=until, filters={"status": "approved"}
    ):
        ids.update(dict.fromkeys(listed.id for listed in page))
        tell("coupa listed", len(page))
    ids.update(dict.fromkeys(booked))
    found: list[CoupaSide] = []
    size = coupa.config.page_size
    wanted = [str(i) for i in ids]
    for start in range(0, len(wanted), size):
        records = await coupa.fetch_in("invoices", "id", wanted[start : start + size])
        found += [coupa_side(CoupaInvoice.from_api(record)) for record in records]
        tell("coupa invoices", len(records))
    return found


def coupa_side(invoice: CoupaInvoice) -> CoupaSide:
    """The facts compared, the total signed as the mapper books it."""
    total = coupa_total(invoice)
    supplier = invoice.supplier
    return CoupaSide(
        coupa_id=int(invoice.id or 0),
        invoice_number=invoice.invoice_number or "",
        supplier=(supplier.name or supplier.number or "") if supplier else "",
        status=invoice.status or "",
        total=None if total is None else signed(total, is_credit_note(invoice)),
        currency=invoice.currency.code if invoice.currency else None,
        approved_on=invoice.updated_at.date() if invoice.updated_at else None,
    )
