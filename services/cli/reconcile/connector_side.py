"""The connector's own side of a period, from ``posting_ledger`` and ``records``: which invoices
it booked in the period (and in which batches), and for each invoice of the period its newest
record's state and reason with the command it sent (the posted version's, else the newest)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from services.poster.voucher import sign_of
from shared.db.pool import Connection
from shared.kafka.envelope import record_key
from shared.messages import ApLine, PostApInvoice
from shared.reconcile.model import Booking, Line


@dataclass(frozen=True)
class Booked:
    """The invoices the connector booked in the period, and its batches there."""

    coupa_ids: list[int]
    batches: list[str]


async def read_booked(db: Connection, connection: str, period: int) -> Booked:
    """Ledger rows of the connection's invoice jobs whose period (as entered, else as the
    command says) is ``period``."""
    rows = await db.fetch(
        """SELECT l.record_key, l.batch FROM posting_ledger l
            WHERE l.connection = $1 AND l.record_key LIKE $3 AND l.batch <> ''
              AND coalesce(l.period, (SELECT (r.command->>'period')::int FROM records r
                                       WHERE r.job_id = l.job_id AND r.command IS NOT NULL
                                       ORDER BY r.id DESC LIMIT 1)) = $2
            ORDER BY l.record_key""",
        connection,
        period,
        record_key(connection, "invoice", "%"),
    )
    ids = [int(row["record_key"].rsplit(":", 1)[1]) for row in rows]
    return Booked(ids, [row["batch"] for row in rows])


async def read_bookings(
    db: Connection, connection: str, coupa_ids: Iterable[int]
) -> dict[int, Booking]:
    """What the connector holds about each of ``coupa_ids`` it has a record of."""
    keys = [record_key(connection, "invoice", coupa_id) for coupa_id in coupa_ids]
    rows = await db.fetch(
        """SELECT newest.coupa_id, newest.state, newest.reason, sent.command, l.period, l.batch
             FROM (SELECT DISTINCT ON (record_key) record_key, coupa_id, state, job_id,
                          coalesce(parked_reason, last_error) AS reason
                     FROM records WHERE record_key = ANY($1::text[])
                    ORDER BY record_key, id DESC) AS newest
             LEFT JOIN LATERAL (
                   SELECT command FROM records r
                    WHERE r.record_key = newest.record_key AND r.command IS NOT NULL
                    ORDER BY (r.state = 'posted') DESC, r.id DESC LIMIT 1) AS sent ON true
             LEFT JOIN posting_ledger l ON l.job_id = newest.job_id""",
        keys,
    )
    return {int(row["coupa_id"]): _booking(row) for row in rows}


def _booking(row: Any) -> Booking:
    command = _command(row["command"])
    period = row["period"] if row["period"] is not None else (command.period if command else None)
    sign = sign_of(command) if command else 1  # as the voucher was built from it
    return Booking(
        coupa_id=int(row["coupa_id"]),
        state=row["state"],
        reason=row["reason"],
        vendor=command.vendor if command else None,
        invoice_number=command.invoice_number if command else None,
        period=period,
        total=command.total * sign if command else None,
        lines=tuple(_line(line, sign) for line in command.lines) if command else (),
        batch=row["batch"] or None,
    )


def _command(stored: object) -> PostApInvoice | None:
    """The stored command, or None where there is none (parked) or it is no voucher command."""
    try:
        return PostApInvoice.model_validate(stored) if stored else None
    except ValidationError:
        return None


def _line(line: ApLine, sign: int) -> Line:
    def text(value: str | None) -> str:
        return (value or "").strip()

    return Line(
        text(line.account), text(line.wbs1), text(line.wbs2), text(line.wbs3), line.amount * sign
    )
