"""Replay: put stored records back on the pipeline, through the same idempotency guards.

What is re-published depends on how far a record got. A record the mapper has not finished
(``received``, ``parked``, ``failed`` before a command existed) goes back to its Coupa topic as
the original event; a record with a Deltek command (``mapped``, ``posting``, ``posted``,
``failed`` after mapping) has that command re-sent to ``deltek.writes``, where the poster's ledger
and its Deltek look-up make a second booking impossible. Only the newest version of each record
is replayed: an older one would only be superseded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.db.pool import Connection
from shared.kafka.envelope import Envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics
from shared.messages import INVOICE_APPROVED, POST_AP_INVOICE, SUPPLIER_CHANGED, UPSERT_VENDOR
from shared.records import append_audit

# "unfinished": what a restart of an in-memory broker could have lost on its way.
UNFINISHED = ("received", "mapped", "posting")
STATES = ("received", "mapped", "parked", "posting", "posted", "failed", "flagged")
_EVENT_SCHEMA = {"invoice": INVOICE_APPROVED, "supplier": SUPPLIER_CHANGED}
_COMMAND_SCHEMA = {"invoice": POST_AP_INVOICE, "supplier": UPSERT_VENDOR}


@dataclass(frozen=True)
class Selection:
    """Which records to replay; every given criterion must hold."""

    record_key: str | None = None
    states: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    connection: str | None = None


@dataclass(frozen=True)
class Replay:
    """One message that a replay sends (or, in a dry run, would send)."""

    record_id: int
    record_key: str
    state: str
    topic: str
    envelope: Envelope


async def select(
    conn: Connection, selection: Selection, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """The newest version of each record that matches, oldest change first; at most ``limit``.

    Every criterion is in the SQL, so only the rows returned are read with their payloads: the
    console asks for one more than it replays, to know that there are more, and no more. State
    and dates are checked on each record's newest version (an older version that matches is not
    replayed), so they filter the newest versions rather than choose among them.
    """
    rows = await conn.fetch(
        """WITH newest AS (
                SELECT DISTINCT ON (record_key) id, state, updated_at
                  FROM records
                 WHERE ($1::text IS NULL OR record_key = $1)
                   AND ($2::text IS NULL OR connection = $2)
                 ORDER BY record_key, id DESC)
           SELECT r.id, r.record_key, r.connection, r.kind, r.state, r.payload, r.command,
                  r.updated_at
             FROM newest n JOIN records r ON r.id = n.id
            WHERE (cardinality($3::text[]) = 0 OR n.state = ANY($3::text[]))
              AND ($4::timestamptz IS NULL OR n.updated_at >= $4)
              AND ($5::timestamptz IS NULL OR n.updated_at < $5)
            ORDER BY n.updated_at, n.id
            LIMIT $6""",
        selection.record_key,
        selection.connection,
        list(selection.states),
        selection.since,
        selection.until,
        limit,
    )
    return [dict(row) for row in rows]


def plan(rows: list[dict[str, Any]], topics: Topics) -> list[Replay]:
    """What to send for each selected record (see the module docstring for the rule)."""
    replays = []
    for row in rows:
        if row["command"] is not None and row["state"] != "parked":
            topic, payload = topics.deltek_writes, row["command"]
            schema = _COMMAND_SCHEMA[row["kind"]]
        else:
            topic = topics.coupa_invoices if row["kind"] == "invoice" else topics.coupa_suppliers
            schema, payload = _EVENT_SCHEMA[row["kind"]], row["payload"]
        envelope = Envelope(
            schema=schema,
            connection=row["connection"],
            key=row["record_key"],
            source="replay",
            payload=payload,
        )
        replays.append(Replay(row["id"], row["record_key"], row["state"], topic, envelope))
    return replays


async def send(conn: Connection, publisher: Publisher, replays: list[Replay], *, by: str) -> None:
    """Publish each replay and note it in its record's audit trail."""
    for replay in replays:
        await publisher.publish(replay.topic, replay.envelope)
        await append_audit(
            conn,
            record_key=replay.record_key,
            record_id=replay.record_id,
            service=by,
            event="replayed",
            details={
                "topic": replay.topic,
                "schema": replay.envelope.schema_name,
                "event_id": str(replay.envelope.event_id),
                "state": replay.state,
            },
        )
