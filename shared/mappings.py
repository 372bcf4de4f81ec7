"""Explicit maps from Coupa values to Deltek ones, and the channel that says what resolves changed.

A map row is ``(connection, kind, coupa_value) -> deltek_value`` with the ``source`` that wrote
it (``import``, ``vendor_sync``, ...). Whatever changes what the mapper resolves against (a map
here, the Deltek reference cache in ``shared/reference/cache.py``, a connection's settings, a new
Coupa supplier) sends ``NOTIFY connector_mappings, '<connection>'`` through
:func:`notify_changed` in the transaction that makes the change. The mapper listens on
:data:`CHANNEL`: it reloads the connection's reference data it holds in memory, and retries the
records parked for want of it. A change written without the notification (by hand, in SQL) is
seen only once the mapper's ``reference_ttl_seconds`` pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.db.pool import Connection
from shared.reference.view import MAP_KINDS

CHANNEL = "connector_mappings"


@dataclass(frozen=True)
class UpsertCounts:
    added: int
    changed: int
    unchanged: int


async def notify_changed(conn: Connection, connection: str) -> None:
    """Tell the mapper that maps or reference data of ``connection`` changed.

    Send it in the transaction that makes the change: Postgres delivers it on that commit (and
    never for one rolled back), so a listener cannot miss a change nor hear of one too early.
    """
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, connection)


async def upsert_mappings(
    conn: Connection,
    connection: str,
    kind: str,
    rows: list[tuple[str, str]],
    *,
    source: str = "import",
) -> UpsertCounts:
    """Insert or update explicit maps and wake parked records, atomically."""
    async with conn.transaction():
        written = await conn.fetch(
            """INSERT INTO mappings (connection, kind, coupa_value, deltek_value, source)
               SELECT $1, $2, c, d, $5 FROM unnest($3::text[], $4::text[]) AS t(c, d)
               ON CONFLICT (connection, kind, coupa_value) DO UPDATE
                  SET deltek_value = EXCLUDED.deltek_value, source = EXCLUDED.source,
                      updated_at = now()
                WHERE mappings.deltek_value IS DISTINCT FROM EXCLUDED.deltek_value
               RETURNING (xmax = 0) AS added""",
            connection,
            kind,
            [c for c, _ in rows],
            [d for _, d in rows],
            source,
        )
        await notify_changed(conn, connection)
    added = sum(1 for row in written if row["added"])
    return UpsertCounts(added, len(written) - added, len(rows) - len(written))


async def read_mappings(conn: Connection, connection: str, kind: str) -> list[tuple[str, str]]:
    """One kind's maps of ``connection``, ordered by Coupa value (for export)."""
    rows = await conn.fetch(
        """SELECT coupa_value, deltek_value FROM mappings
            WHERE connection = $1 AND kind = $2 ORDER BY coupa_value""",
        connection,
        kind,
    )
    return [(row["coupa_value"], row["deltek_value"]) for row in rows]


async def load_mappings(
    conn: Connection, connection: str, kinds: tuple[str, ...] = MAP_KINDS
) -> dict[str, dict[str, str]]:
    """Every map of ``kinds`` for ``connection``, as ``{kind: {coupa value: deltek value}}``."""
    rows = await conn.fetch(
        """SELECT kind, coupa_value, deltek_value FROM mappings
            WHERE connection = $1 AND kind = ANY($2::text[])""",
        connection,
        list(kinds),
    )
    by_kind: dict[str, dict[str, str]] = {kind: {} for kind in kinds}
    for row in rows:
        by_kind[row["kind"]][row["coupa_value"]] = row["deltek_value"]
    return by_kind
