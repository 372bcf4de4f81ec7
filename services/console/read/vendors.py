"""Vendor firm changes: what vendor sync would write (recorded by a connection in preview
mode, ``would_sync``) and what it wrote lately (``vendor_synced``), from the audit trail.

The poster records the diff field by field (``services/poster/vendor_plan.py``) in the audit
event, so the page shows exactly what the writing path decided, without asking Deltek again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.console.read import LATEST
from shared.db.pool import Connection

# The latest writes shown; the whole history is in each record's audit trail.
RECENT_LIMIT = 50


@dataclass(frozen=True)
class FieldChange:
    part: str
    name: str
    in_deltek: str
    from_coupa: str


@dataclass(frozen=True)
class WouldSync:
    """A supplier whose firm write waits for the connection to go live."""

    record_key: str
    connection: str
    supplier: str
    would: str
    at: datetime
    changes: list[FieldChange]


@dataclass(frozen=True)
class Synced:
    """A firm vendor sync wrote (or found equal)."""

    record_key: str
    connection: str
    supplier: str
    outcome: str
    firm: str
    changed: list[str]
    at: datetime


def _supplier(payload: dict[str, Any] | None) -> str:
    supplier = (payload or {}).get("supplier") or {}
    name, number = supplier.get("name") or "", supplier.get("number") or ""
    return f"{name} ({number})" if name and number else name or number or "?"


async def pending(conn: Connection) -> list[WouldSync]:
    """The newest version of each supplier held back by preview mode, with its diff."""
    rows = await conn.fetch(
        f"""WITH {LATEST}
            SELECT r.record_key, r.connection, r.payload, a.details, a.occurred_at
              FROM latest r
              JOIN LATERAL (
                   SELECT details, occurred_at FROM audit_events
                    WHERE record_key = r.record_key AND record_id = r.id AND event = 'would_sync'
                    ORDER BY id DESC LIMIT 1) a ON true
             WHERE r.kind = 'supplier' AND r.state = 'previewed'
             ORDER BY r.connection, a.occurred_at, r.record_key"""  # noqa: S608 - only constant SQL is put in
    )
    return [
        WouldSync(
            row["record_key"],
            row["connection"],
            _supplier(row["payload"]),
            row["details"].get("would", ""),
            row["occurred_at"],
            [FieldChange(**change) for change in row["details"].get("changes", [])],
        )
        for row in rows
    ]


async def recent(conn: Connection) -> list[Synced]:
    """The latest firm writes, newest first."""
    rows = await conn.fetch(
        """SELECT a.record_key, r.connection, r.payload, a.details, a.occurred_at
             FROM audit_events a JOIN records r ON r.id = a.record_id
            WHERE a.event = 'vendor_synced'
            ORDER BY a.id DESC LIMIT $1""",
        RECENT_LIMIT,
    )
    return [
        Synced(
            row["record_key"],
            row["connection"],
            _supplier(row["payload"]),
            row["details"].get("outcome", ""),
            f"{row['details'].get('client_id', '')}/{row['details'].get('vendor', '')}",
            list(row["details"].get("changed", [])),
            row["occurred_at"],
        )
        for row in rows
    ]
