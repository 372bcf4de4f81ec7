"""The records and audit trail repository: every state change of every record is an event.

Reasons and audit details are scrubbed (``shared.logs.scrub``) on their way in: they carry
exception texts and Deltek's messages, which may quote a credential or run to megabytes, and
rows outlive logs and are read by more people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any

from shared.coupa.models import coupa_version
from shared.db.pool import Connection
from shared.kafka.envelope import Coordinates, Envelope
from shared.logs import scrub, scrub_values


async def append_audit(
    conn: Connection,
    *,
    record_key: str,
    service: str,
    event: str,
    details: dict[str, Any],
    coords: Coordinates | None = None,
    record_id: int | None = None,
) -> None:
    """Add one event to a record's story; every string in ``details`` is scrubbed first."""
    await conn.execute(
        """INSERT INTO audit_events (record_key, record_id, service, event, details,
                                     topic, kafka_partition, kafka_offset)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        record_key,
        record_id,
        service,
        event,
        scrub_values(details),
        coords.topic if coords else None,
        coords.partition if coords else None,
        coords.offset if coords else None,
    )


def event_version(payload: dict[str, Any], kind: str) -> str:
    """Coupa's ``updated-at`` of the object an event carries (``{"invoice": {...}, ...}``)."""
    body = payload.get(kind)
    return coupa_version(body if isinstance(body, dict) else payload)


def is_newer(version: str, than: str) -> bool:
    """Versions are Coupa ``updated-at`` stamps: compared as instants when both parse with an
    offset (or both without one), as text otherwise, so any two versions have an order."""
    try:
        a, b = datetime.fromisoformat(version.strip()), datetime.fromisoformat(than.strip())
    except ValueError:
        return version > than
    if (a.tzinfo is None) != (b.tzinfo is None):
        return version > than
    return a > b


def newest(versions: list[str]) -> str:
    """The newest of several versions by :func:`is_newer`."""
    return reduce(lambda a, b: b if is_newer(b, a) else a, versions)


def _parse_key(key: str) -> tuple[str, str, str]:
    connection, kind, coupa_id = key.split(":", 2)
    return connection, kind, coupa_id


async def record_received(
    conn: Connection, envelope: Envelope, coords: Coordinates | None, *, service: str
) -> tuple[int, bool]:
    """Store this version of a Coupa object once; return its id and whether it is new.

    A redelivered message finds the row already there and only adds a ``redelivered`` event,
    so the story shows every delivery but the record exists once. ``coords`` is None for a
    version that never reached Kafka (ingest parks one too large to publish).
    """
    connection, kind, coupa_id = _parse_key(envelope.key)
    version = event_version(envelope.payload, kind)
    async with conn.transaction():
        record_id = await conn.fetchval(
            """INSERT INTO records (record_key, connection, kind, coupa_id, version, payload)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (record_key, version) DO NOTHING
               RETURNING id""",
            envelope.key,
            connection,
            kind,
            coupa_id,
            version,
            envelope.payload,
        )
        created = record_id is not None
        if not created:
            record_id = await conn.fetchval(
                "SELECT id FROM records WHERE record_key = $1 AND version = $2",
                envelope.key,
                version,
            )
        await append_audit(
            conn,
            record_key=envelope.key,
            record_id=record_id,
            service=service,
            event="received" if created else "redelivered",
            details={
                "event_id": str(envelope.event_id),
                "source": envelope.source,
                "schema": envelope.schema_name,
                "version": version,
            },
            coords=coords,
        )
    return int(record_id), created


async def transition(
    conn: Connection,
    *,
    record_id: int,
    record_key: str,
    state: str,
    service: str,
    event: str,
    details: dict[str, Any],
    coords: Coordinates | None = None,
    job_id: str | None = None,
    reason: str | None = None,
    waiting_for: list[dict[str, str]] | None = None,
    command: dict[str, Any] | None = None,
    deltek_ref: str | None = None,
) -> None:
    """Move a record to ``state`` and add the audit event that explains the move, atomically.

    ``reason`` (plain words for a clerk, scrubbed) becomes ``parked_reason`` for a parked record
    and ``last_error`` for a parked, failed or flagged one; ``parked_reason`` and ``waiting_for``
    are cleared whenever the record leaves ``parked``; ``job_id`` and ``command`` keep their last
    value unless given, and so does ``deltek_ref`` (where Deltek holds it: batch/voucher, firm).
    """
    async with conn.transaction():
        await conn.execute(
            """UPDATE records
                  SET state = $2,
                      job_id = COALESCE($3, job_id),
                      parked_reason = CASE WHEN $2 = 'parked' THEN $4 END,
                      waiting_for = $5,
                      command = COALESCE($6, command),
                      deltek_ref = COALESCE($7, deltek_ref),
                      last_error = CASE WHEN $2 IN ('parked', 'failed', 'flagged') THEN $4
                                        ELSE last_error END,
                      updated_at = now()
                WHERE id = $1""",
            record_id,
            state,
            job_id,
            None if reason is None else scrub(reason),
            waiting_for,
            command,
            deltek_ref,
        )
        await append_audit(
            conn,
            record_key=record_key,
            record_id=record_id,
            service=service,
            event=event,
            details=details,
            coords=coords,
        )


@dataclass(frozen=True)
class Version:
    """One stored version of a Coupa object: its record id, Coupa version and state."""

    id: int
    version: str
    state: str


async def versions(conn: Connection, record_key: str) -> list[Version]:
    """Every stored version of the Coupa object ``record_key``."""
    rows = await conn.fetch(
        "SELECT id, version, state FROM records WHERE record_key = $1", record_key
    )
    return [Version(row["id"], row["version"], row["state"]) for row in rows]


# A record still on its way; once its message is dead-lettered it would sit there unexplained.
_UNDER_WAY = ("received", "mapped", "posting")


async def mark_dead_lettered(conn: Connection, record_key: str, service: str, error: str) -> bool:
    """Mark the newest version of a record ``failed`` because its message was dead-lettered.

    Returns False when there is no such record or it already ended otherwise. The reason says
    what happened and how to take it back (``connector replay``), so nothing is stuck unexplained.
    """
    row = await conn.fetchrow(
        "SELECT id, state FROM records WHERE record_key = $1 ORDER BY id DESC LIMIT 1", record_key
    )
    if row is None or row["state"] not in _UNDER_WAY:
        return False
    reason = f"{service} could not handle it and set it aside (dead letter): {error}"
    await transition(
        conn,
        record_id=row["id"],
        record_key=record_key,
        state="failed",
        service=service,
        event="failed",
        details={"error": error},
        reason=reason,
    )
    return True
