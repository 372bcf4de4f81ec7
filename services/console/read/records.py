"""Finding invoices (by number, supplier, PO, amount, date, state) and reading one's whole story:
its versions, audit trail, the command as sent, Deltek's answer, and its lines side by side."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.console.read import LATEST
from services.console.read.exceptions import anchor
from shared.db.pool import Connection

SEARCH_LIMIT = 200
# The states a stored reason explains. A record keeps its last reason after it goes on (the
# store does not clear ``last_error``), so in any other state the reason is history, not news.
REASON_STATES = ("parked", "flagged", "failed")
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
    # "supplier" lists supplier records (the overview's supplier counts link here), whose
    # invoice fields are blank, so only state and connection narrow them.
    kind: str = "invoice"


@dataclass(frozen=True)
class Why:
    """A record's reason as a clerk should read it: ``current`` while it still holds the record
    where it is, otherwise an earlier problem that was resolved."""

    text: str
    current: bool


def why(state: str, reason: str | None) -> Why | None:
    if not reason:
        return None
    return Why(reason, current=state in REASON_STATES)


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

    @property
    def why(self) -> Why | None:
        return why(self.state, self.reason)


async def search(conn: Connection, wanted: Search) -> list[Found]:
    """The newest version of each matching invoice, most recently changed first."""
    rows = await conn.fetch(
        f"""WITH {LATEST}
            SELECT record_key, connection, state, updated_at,
                   coalesce(parked_reason, last_error) AS reason,
                   coalesce(payload->'invoice',
                            jsonb_build_object('supplier', payload->'supplier')) AS invoice
              FROM latest
             WHERE kind = $9
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
        wanted.kind,
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
    # The Deltek vendor the command names, as the reference cache knows it ("" if it does not).
    vendor_name: str = ""

    @property
    def newest(self) -> dict[str, Any]:
        return self.versions[0]

    @property
    def invoice(self) -> dict[str, Any]:
        payload: dict[str, Any] = self.newest["payload"] or {}
        invoice = payload.get("invoice")
        return invoice if isinstance(invoice, dict) else {}

    @property
    def vendor(self) -> str:
        """The Deltek vendor number the voucher was (or is to be) entered for."""
        return str((self.newest["command"] or {}).get("vendor") or "")

    @property
    def currency(self) -> str:
        return _currency(self.invoice)

    @property
    def why(self) -> Why | None:
        """The newest version's reason: why it is parked, failed or flagged, or what it was."""
        newest = self.newest
        return why(newest["state"], newest["parked_reason"] or newest["last_error"])

    @property
    def waiting(self) -> list[tuple[str, str]]:
        """What a parked record waits for, each with its group's anchor on the exceptions page."""
        newest = self.newest
        if newest["state"] != "parked":
            return []
        return [
            (
                wait.get("label") or f"Coupa {wait['kind']} {wait['coupa_value']}",
                anchor(newest["connection"], wait["kind"], wait["coupa_value"]),
            )
            for wait in newest["waiting_for"] or []
        ]

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
        """SELECT id, connection, version, state, payload, command, deltek_ref, job_id,
                  parked_reason, last_error, waiting_for, created_at, updated_at
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
    found = Story(
        record_key,
        [dict(row) for row in versions],
        [AuditEvent(e["occurred_at"], e["service"], e["event"], e["details"]) for e in events],
    )
    if not found.vendor:
        return found
    name = await conn.fetchval(
        "SELECT name FROM deltek_vendors WHERE connection = $1 AND vendor = $2 LIMIT 1",
        found.newest["connection"],
        found.vendor,
    )
    return replace(found, vendor_name=name or "")


@dataclass(frozen=True)
class Followed:
    """A record on the watch page: its state now, and the invoice and supplier a clerk knows."""

    record_key: str
    state: str
    invoice_number: str = ""
    supplier: str = ""


async def followed(conn: Connection, record_keys: list[str]) -> list[Followed]:
    """The newest version of each of ``record_keys``, in their order (state "unknown" for a key
    with no record)."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (record_key) record_key, state, payload->'invoice' AS invoice
             FROM records WHERE record_key = ANY($1::text[]) ORDER BY record_key, id DESC""",
        record_keys,
    )
    found = {row["record_key"]: _followed(row) for row in rows}
    return [found.get(key) or Followed(key, "unknown") for key in record_keys]


def _followed(row: Any) -> Followed:
    invoice: dict[str, Any] = row["invoice"] or {}
    supplier = invoice.get("supplier") or {}
    return Followed(
        row["record_key"],
        row["state"],
        str(invoice.get("invoice-number") or ""),
        str(supplier.get("name") or supplier.get("number") or ""),
    )
