"""Finding invoices (by number, supplier, PO, amount, date, state) and reading one's whole story:
its versions, audit trail, the command as sent, Deltek's answer, and its lines side by side."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.console.read import LATEST
from shared.db.pool import Connection

SEARCH_LIMIT = 200
# The poster's audit events that carry what Deltek answered.
DELTEK_ANSWERS = ("entered", "batch_posted", "posted", "parked", "flagged", "previewed")


@dataclass(frozen=True)
class Search:
    """What the records page was asked for; empty fields do not filter."""

    invoice_number: str = ""
    supplier: str = ""
    po: str = ""
    amount: Decimal | None = None
    date_from: date | None = None
    date_to: date | None = None
    state: str = ""
    connection: str = ""


@dataclass(frozen=True)
class Found:
    record_key: str
    connection: str
    state: str
    invoice_number: str
    supplier: str
    total: str
    currency: str
    invoice_date: str
    updated_at: datetime
    reason: str | None


async def search(conn: Connection, wanted: Search) -> list[Found]:
    """The newest version of each matching invoice, most recently changed first."""
    rows = await conn.fetch(
        f"""WITH {LATEST}
            SELECT record_key, connection, state, updated_at,
                   coalesce(parked_reason, last_error) AS reason,
                   payload->'invoice' AS invoice
              FROM latest
             WHERE kind = 'invoice'
               AND ($1 = '' OR payload->'invoice'->>'invoice-number' ILIKE '%' || $1 || '%')
               AND ($2 = '' OR payload->'invoice'->'supplier'->>'name' ILIKE '%' || $2 || '%'
                            OR payload->'invoice'->'supplier'->>'number' = $2
                            OR payload->'invoice'->'supplier'->>'id' = $2)
               AND ($3 = '' OR EXISTS (
                     SELECT 1 FROM jsonb_array_elements(
                                     coalesce(payload->'invoice'->'invoice-lines', '[]')) AS l
                      WHERE l->>'po-number' = $3 OR l->>'order-header-num' = $3))
               AND ($4::numeric IS NULL OR
                    CASE WHEN payload->'invoice'->>'gross-total' ~ '^-?[0-9]+(\\.[0-9]+)?$'
                         THEN (payload->'invoice'->>'gross-total')::numeric END = $4)
               AND ($5::text IS NULL OR left(payload->'invoice'->>'invoice-date', 10) >= $5)
               AND ($6::text IS NULL OR left(payload->'invoice'->>'invoice-date', 10) <= $6)
               AND ($7 = '' OR state = $7)
               AND ($8 = '' OR connection = $8)
             ORDER BY updated_at DESC, record_key
             LIMIT {SEARCH_LIMIT}""",  # noqa: S608 - only constant SQL is put in
        wanted.invoice_number.strip(),
        wanted.supplier.strip(),
        wanted.po.strip(),
        wanted.amount,
        wanted.date_from.isoformat() if wanted.date_from else None,
        wanted.date_to.isoformat() if wanted.date_to else None,
        wanted.state,
        wanted.connection,
    )
    return [_found(row) for row in rows]


def _found(row: Any) -> Found:
    invoice: dict[str, Any] = row["invoice"] or {}
    supplier = invoice.get("supplier") or {}
    return Found(
        record_key=row["record_key"],
        connection=row["connection"],
        state=row["state"],
        invoice_number=str(invoice.get("invoice-number") or ""),
        supplier=str(supplier.get("name") or supplier.get("number") or ""),
        total=str(invoice.get("gross-total") or ""),
        currency=_currency(invoice),
        invoice_date=str(invoice.get("invoice-date") or "")[:10],
        updated_at=row["updated_at"],
        reason=row["reason"],
    )


def _currency(invoice: dict[str, Any]) -> str:
    currency = invoice.get("currency")
    return str(currency.get("code", "")) if isinstance(currency, dict) else str(currency or "")


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    service: str
    event: str
    details: dict[str, Any]


@dataclass(frozen=True)
class LinePair:
    """One Coupa line and the Deltek voucher lines it became (none where it was not mapped)."""

    coupa: dict[str, Any] | None
    deltek: list[dict[str, Any]]


@dataclass(frozen=True)
class Story:
    record_key: str
    versions: list[dict[str, Any]]
    events: list[AuditEvent]

    @property
    def newest(self) -> dict[str, Any]:
        return self.versions[0]

    @property
    def invoice(self) -> dict[str, Any]:
        payload: dict[str, Any] = self.newest["payload"] or {}
        invoice = payload.get("invoice")
        return invoice if isinstance(invoice, dict) else {}

    @property
    def purchase_orders(self) -> list[dict[str, Any]]:
        orders = (self.newest["payload"] or {}).get("purchase_orders")
        return orders if isinstance(orders, list) else []

    @property
    def deltek_answers(self) -> list[AuditEvent]:
        return [e for e in self.events if e.service == "poster" and e.event in DELTEK_ANSWERS]

    def lines(self) -> list[LinePair]:
        """Each Coupa line beside the voucher lines made from it, then the lines from charges
        and tax, which no single Coupa line owns."""
        command = self.newest["command"] or {}
        voucher: list[dict[str, Any]] = list(command.get("lines") or [])
        pairs = []
        for line in self.invoice.get("invoice-lines") or []:
            made = [v for v in voucher if v.get("coupa_line_id") == line.get("id")]
            pairs.append(LinePair(line, made))
        paired = {id(v) for pair in pairs for v in pair.deltek}
        rest = [v for v in voucher if id(v) not in paired]
        if rest:
            pairs.append(LinePair(None, rest))
        return pairs


async def story(conn: Connection, record_key: str) -> Story | None:
    versions = await conn.fetch(
        """SELECT id, version, state, payload, command, deltek_ref, job_id, parked_reason,
                  last_error, waiting_for, created_at, updated_at
             FROM records WHERE record_key = $1 ORDER BY id DESC""",
        record_key,
    )
    if not versions:
        return None
    events = await conn.fetch(
        """SELECT occurred_at, service, event, details FROM audit_events
            WHERE record_key = $1 ORDER BY id""",
        record_key,
    )
    return Story(
        record_key,
        [dict(row) for row in versions],
        [AuditEvent(e["occurred_at"], e["service"], e["event"], e["details"]) for e in events],
    )


async def states(conn: Connection, record_keys: list[str]) -> dict[str, str]:
    """The newest state of each of ``record_keys`` (absent when there is no such record)."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (record_key) record_key, state FROM records
            WHERE record_key = ANY($1::text[]) ORDER BY record_key, id DESC""",
        record_keys,
    )
    return {row["record_key"]: row["state"] for row in rows}
