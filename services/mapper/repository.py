"""The mapper's Postgres access: the records it maps, and what the ledger says was booked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from pydantic import ValidationError

from services.mapper.rules.posted import Booked
from shared.db.pool import Connection
from shared.kafka.envelope import Source, record_key
from shared.ledger import BOOKED_STATES, read_entry
from shared.messages import PostApInvoice


async def latest_supplier(
    conn: Connection, connection: str, coupa_id: str
) -> dict[str, Any] | None:
    """The last Coupa supplier record received for ``coupa_id`` (for its tax id), if any.

    Found by its record key, so the ``(record_key, version)`` index reads only its versions
    rather than every record of the connection.
    """
    payload = await conn.fetchval(
        "SELECT payload FROM records WHERE record_key = $1 ORDER BY id DESC LIMIT 1",
        record_key(connection, "supplier", coupa_id),
    )
    if not isinstance(payload, dict):
        return None
    inner = payload.get("supplier")
    return inner if isinstance(inner, dict) else payload


@dataclass(frozen=True)
class StoredRecord:
    id: int
    record_key: str
    connection: str
    coupa_id: str
    version: str
    state: str
    payload: dict[str, Any]
    parked_reason: str | None
    waiting_for: list[dict[str, str]] | None
    command: dict[str, Any] | None

    @property
    def kind(self) -> str:
        """``invoice`` or ``supplier``, from the record key ``{connection}:{kind}:{coupa id}``."""
        return self.record_key.split(":", 2)[1]


async def lock_record(conn: Connection, record_id: int) -> StoredRecord | None:
    """The record, locked until the caller's transaction ends (one mapper works on it at once)."""
    row = await conn.fetchrow(
        """SELECT id, record_key, connection, coupa_id, version, state, payload, parked_reason,
                  waiting_for, command
             FROM records WHERE id = $1 FOR UPDATE""",
        record_id,
    )
    return StoredRecord(**dict(row)) if row else None


async def booked_job(conn: Connection, job_id: str) -> Booked | None:
    """The job if a voucher for it was (or is being) entered in Deltek, else None.

    The ledger decides; records in ``posting``/``posted`` stand in when it has no row.
    """
    entry = await read_entry(conn, job_id)
    rows = await conn.fetch(
        """SELECT command, state FROM records
            WHERE job_id = $1 AND command IS NOT NULL ORDER BY updated_at DESC, id DESC""",
        job_id,
    )
    commands = [(c, row["state"]) for row in rows if (c := _command(row["command"])) is not None]
    if entry is not None:
        if entry.state not in BOOKED_STATES:
            return None
        sent = next((c for c, _ in commands if c.content_hash() == entry.content_hash), None)
        return Booked(entry.content_hash, entry.refs.voucher, entry.refs.period, sent)
    posted = next((c for c, state in commands if state in ("posting", "posted")), None)
    if posted is None:
        return None
    return Booked(posted.content_hash(), None, posted.period, posted)


def _command(body: object) -> PostApInvoice | None:
    try:
        return PostApInvoice.model_validate(body)
    except ValidationError:
        return None


async def waiting_connections(conn: Connection) -> list[str]:
    """Connections with records that may go on by themselves: parked, or previewed."""
    rows = await conn.fetch(
        "SELECT DISTINCT connection FROM records WHERE state IN ('parked', 'previewed')"
    )
    return [row["connection"] for row in rows]


async def previewed(conn: Connection, connection: str, limit: int) -> list[int]:
    """Records a preview-mode run mapped but did not send, oldest first."""
    rows = await conn.fetch(
        """SELECT id FROM records WHERE connection = $1 AND state = 'previewed'
            ORDER BY updated_at, id LIMIT $2""",
        connection,
        limit,
    )
    return [row["id"] for row in rows]


async def parked_waiting(conn: Connection, connection: str, limit: int) -> list[int]:
    """Parked records of ``connection`` that wait for something that may appear, oldest first:
    invoices (a map, a vendor, a period...) and suppliers (a payment-term translation)."""
    rows = await conn.fetch(
        """SELECT id FROM records
            WHERE connection = $1 AND state = 'parked'
              AND jsonb_array_length(COALESCE(waiting_for, '[]'::jsonb)) > 0
            ORDER BY updated_at, id LIMIT $2""",
        connection,
        limit,
    )
    return [row["id"] for row in rows]


async def parked_trace(conn: Connection, record_id: int) -> tuple[Source, str | None]:
    """The source and trace id the record was parked under, to publish on with the same ones."""
    details = await conn.fetchval(
        """SELECT details FROM audit_events
            WHERE record_id = $1 AND details ? 'trace_id' ORDER BY id DESC LIMIT 1""",
        record_id,
    )
    if not isinstance(details, dict):
        return "replay", None
    source: Source = "replay"
    for known in get_args(Source):
        if details.get("source") == known:
            source = known
    trace_id = details.get("trace_id")
    return source, str(trace_id) if trace_id else None


async def latest_invoices(conn: Connection, connection: str) -> list[StoredRecord]:
    """The newest stored version of every invoice of ``connection`` (for coverage checks)."""
    return await _latest(conn, connection, "invoice")


async def latest_suppliers(conn: Connection, connection: str) -> list[StoredRecord]:
    """The newest stored version of every Coupa supplier of ``connection``."""
    return await _latest(conn, connection, "supplier")


async def _latest(conn: Connection, connection: str, kind: str) -> list[StoredRecord]:
    rows = await conn.fetch(
        """SELECT DISTINCT ON (record_key) id, record_key, connection, coupa_id, version, state,
                  payload, parked_reason, waiting_for, command
             FROM records WHERE connection = $1 AND kind = $2
            ORDER BY record_key, id DESC""",
        connection,
        kind,
    )
    return [StoredRecord(**dict(row)) for row in rows]
