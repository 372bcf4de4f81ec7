"""Flagged records (changed or voided in Coupa after they were posted) and their acknowledgements.

A flagged record stays flagged: nothing in the pipeline can settle it, a person decides in Coupa
or Deltek. Acknowledging it says "seen, being dealt with" without pretending it was resolved, so
it is an audit event on the flagged version (who, when, a note), not a state. A newer version
flagged again is a new row and needs a new acknowledgement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.console.read import LATEST
from shared.db.pool import Connection

ACKNOWLEDGED = "acknowledged"
# True for a record row ``r`` nobody acknowledged (the audit index is on record_key, id).
NOT_ACKNOWLEDGED = f"""NOT EXISTS (SELECT 1 FROM audit_events a
                        WHERE a.record_key = r.record_key AND a.record_id = r.id
                          AND a.event = '{ACKNOWLEDGED}')"""  # noqa: S608 - only constant SQL is put in


@dataclass(frozen=True)
class Acknowledgement:
    by: str
    at: datetime
    note: str


@dataclass(frozen=True)
class Flagged:
    record_id: int
    record_key: str
    connection: str
    reason: str
    since: datetime
    acknowledged: Acknowledgement | None


async def flagged(conn: Connection, *, with_acknowledged: bool = False) -> list[Flagged]:
    """The newest version of each flagged record, oldest first; acknowledged ones on request."""
    rows = await conn.fetch(
        f"""WITH {LATEST}
            SELECT r.id, r.record_key, r.connection, coalesce(r.last_error, '') AS reason,
                   r.updated_at, a.details->>'user' AS by, a.at, a.details->>'note' AS note
              FROM latest r
              LEFT JOIN LATERAL (
                   SELECT details, occurred_at AS at FROM audit_events
                    WHERE record_key = r.record_key AND record_id = r.id
                      AND event = '{ACKNOWLEDGED}'
                    ORDER BY id DESC LIMIT 1) a ON true
             WHERE r.state = 'flagged' AND ($1 OR a.at IS NULL)
             ORDER BY r.updated_at, r.record_key""",  # noqa: S608 - only constant SQL is put in
        with_acknowledged,
    )
    return [
        Flagged(
            row["id"],
            row["record_key"],
            row["connection"],
            row["reason"],
            row["updated_at"],
            None if row["at"] is None else Acknowledgement(row["by"], row["at"], row["note"]),
        )
        for row in rows
    ]


async def awaiting_acknowledgement(conn: Connection, record_key: str) -> int | None:
    """The id of ``record_key``'s newest version if it is flagged and not acknowledged yet."""
    found: int | None = await conn.fetchval(
        f"""SELECT r.id
              FROM (SELECT id, record_key, state FROM records WHERE record_key = $1
                     ORDER BY id DESC LIMIT 1) r
             WHERE r.state = 'flagged' AND {NOT_ACKNOWLEDGED}""",  # noqa: S608 - only constant SQL is put in
        record_key,
    )
    return found
