"""The Coupa inbox: each pushed or polled object version accepted once, then published once.

Accepting is one insert; publishing happens after, from the table, so a Call Out is answered in
milliseconds, a broker outage loses nothing, and a second delivery of the same version is
acknowledged without being published again. A version whose event the broker will never take
is parked instead (``park``): it leaves the drain's way and shows as a parked record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from shared.coupa.models import coupa_version
from shared.coupa.paging import Listed
from shared.db.pool import Connection
from shared.kafka.envelope import Envelope
from shared.logs import scrub
from shared.records import record_received, transition

Kind = Literal["invoice", "supplier"]


@dataclass(frozen=True)
class Pending:
    id: int
    connection: str
    kind: Kind
    coupa_id: str
    source: str
    body: dict[str, Any]
    attempts: int


class NotACoupaObjectError(ValueError):
    """The body lacks what identifies a Coupa object version (``id`` and ``updated-at``)."""


def identity(body: object) -> tuple[str, str]:
    """The Coupa id and version (``updated-at``) of a pushed object, or a clear error."""
    if not isinstance(body, dict):
        raise NotACoupaObjectError("the body is not a JSON object")
    coupa_id = body.get("id")
    stamp = body.get("updated-at") or body.get("updated_at")
    if not isinstance(coupa_id, int) or isinstance(coupa_id, bool) or coupa_id <= 0:
        raise NotACoupaObjectError("the object has no numeric 'id'")
    if not isinstance(stamp, str) or not stamp:
        raise NotACoupaObjectError("the object has no 'updated-at'")
    return str(coupa_id), coupa_version(body)


async def accept(
    conn: Connection, connection: str, kind: Kind, body: dict[str, Any], source: str
) -> bool:
    """Keep the object version unless it was accepted before; True when it is new."""
    return await accept_many(conn, connection, kind, [body], source) == 1


async def accept_many(
    conn: Connection, connection: str, kind: Kind, bodies: Sequence[dict[str, Any]], source: str
) -> int:
    """Keep each object version not accepted before, in the order given (the order they are
    published in), with one insert; how many were new."""
    identities = [identity(body) for body in bodies]
    rows = await conn.fetch(
        """INSERT INTO coupa_inbox (connection, kind, coupa_id, version, source, body)
           SELECT $1, $2, coupa_id, version, $3, body
             FROM unnest($4::text[], $5::text[], $6::jsonb[]) WITH ORDINALITY
                  AS given (coupa_id, version, body, position)
            ORDER BY position
           ON CONFLICT (connection, kind, coupa_id, version) DO NOTHING
           RETURNING id""",
        connection,
        kind,
        source,
        [coupa_id for coupa_id, _ in identities],
        [version for _, version in identities],
        list(bodies),
    )
    return len(rows)


async def held_versions(
    conn: Connection, connection: str, kind: Kind, listed: Sequence[Listed]
) -> set[int]:
    """Ids of the listed objects whose listed version was accepted before."""
    rows = await conn.fetch(
        """SELECT coupa_id FROM coupa_inbox
            WHERE connection = $1 AND kind = $2
              AND (coupa_id, version) IN (SELECT * FROM unnest($3::text[], $4::text[]))""",
        connection,
        kind,
        [str(item.id) for item in listed],
        [item.version for item in listed],
    )
    return {int(row["coupa_id"]) for row in rows}


async def claim_pending(conn: Connection, limit: int) -> list[Pending]:
    """Rows neither published nor parked, locked for this transaction so two publishers never
    take the same one.

    Call inside a transaction; rows stay locked until it ends.
    """
    rows = await conn.fetch(
        """SELECT id, connection, kind, coupa_id, source, body, attempts FROM coupa_inbox
            WHERE published_at IS NULL AND parked_at IS NULL
            ORDER BY id
            LIMIT $1
            FOR UPDATE SKIP LOCKED""",
        limit,
    )
    return [Pending(**dict(row)) for row in rows]


async def mark_published(conn: Connection, inbox_id: int) -> None:
    await conn.execute(
        "UPDATE coupa_inbox SET published_at = now(), last_error = NULL WHERE id = $1", inbox_id
    )


async def mark_failed(conn: Connection, inbox_id: int, error: str) -> None:
    """Count a failed try; the error is redacted and cut first, as it may quote anything."""
    await conn.execute(
        "UPDATE coupa_inbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
        inbox_id,
        scrub(error),
    )


async def park(
    conn: Connection,
    item: Pending,
    envelope: Envelope,
    *,
    service: str,
    reason: str,
    details: dict[str, Any],
) -> None:
    """Set aside a row whose ``envelope`` can never be published, where operators look.

    The row keeps the reason and leaves the drain's way. The mapper will never see this
    version, so its record is stored here as the mapper would have stored it (``received``,
    the payload being the event's) and parked at once with the reason: ``connector audit``
    tells its story and ``connector replay --record`` can send it once the limit allows. It
    waits for nothing a map could supply, so the mapper's resume loop leaves it alone. A
    version already stored (published before, its row rolled back after) keeps its own state.
    """
    reason = scrub(reason)
    await conn.execute(
        """UPDATE coupa_inbox SET parked_at = now(), attempts = attempts + 1, last_error = $2
            WHERE id = $1""",
        item.id,
        reason,
    )
    record_id, created = await record_received(conn, envelope, None, service=service)
    if created:
        await transition(
            conn,
            record_id=record_id,
            record_key=envelope.key,
            state="parked",
            service=service,
            event="parked",
            details={"reason": reason, **details},
            reason=reason,
        )
