"""The Coupa inbox: each pushed or polled object version accepted once, then published once.

Accepting is one insert; publishing happens after, from the table, so a Call Out is answered in
milliseconds, a broker outage loses nothing, and a second delivery of the same version is
acknowledged without being published again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from shared.coupa.models import coupa_version
from shared.coupa.paging import Listed
from shared.db.pool import Connection

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
    """Unpublished rows, locked for this transaction so two publishers never take the same one.

    Call inside a transaction; rows stay locked until it ends.
    """
    rows = await conn.fetch(
        """SELECT id, connection, kind, coupa_id, source, body, attempts FROM coupa_inbox
            WHERE published_at IS NULL
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
    await conn.execute(
        "UPDATE coupa_inbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
        inbox_id,
        error,
    )
