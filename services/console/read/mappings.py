"""The maps of one connection and kind as the Mappings page lists them, with who last set each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.db.pool import Connection

# Most maps one page lists (vendor sync writes one per supplier); export has them all.
MAPS_LIMIT = 500


@dataclass(frozen=True)
class MapRow:
    coupa_value: str
    deltek_value: str
    source: str
    updated_at: datetime


@dataclass(frozen=True)
class MapList:
    rows: list[MapRow]
    total: int  # how many maps match, of which ``rows`` holds the first MAPS_LIMIT


async def connection_names(conn: Connection) -> list[str]:
    """Every stored connection, and any connection that maps still name."""
    rows = await conn.fetch(
        "SELECT name FROM connections UNION SELECT connection FROM mappings ORDER BY 1"
    )
    return [row[0] for row in rows]


async def list_maps(conn: Connection, connection: str, kind: str, contains: str = "") -> MapList:
    """The maps of ``connection`` and ``kind`` whose Coupa or Deltek value holds ``contains``."""
    rows = await conn.fetch(
        """SELECT coupa_value, deltek_value, source, updated_at, count(*) OVER () AS total
             FROM mappings
            WHERE connection = $1 AND kind = $2
              AND ($3 = '' OR strpos(lower(coupa_value || ' ' || deltek_value), lower($3)) > 0)
            ORDER BY coupa_value LIMIT $4""",
        connection,
        kind,
        contains,
        MAPS_LIMIT,
    )
    return MapList(
        [MapRow(r["coupa_value"], r["deltek_value"], r["source"], r["updated_at"]) for r in rows],
        rows[0]["total"] if rows else 0,
    )


async def current_values(
    conn: Connection, connection: str, kind: str, coupa_values: list[str]
) -> dict[str, str]:
    """What each of ``coupa_values`` maps to now (those mapped), to audit what a change replaced."""
    rows = await conn.fetch(
        """SELECT coupa_value, deltek_value FROM mappings
            WHERE connection = $1 AND kind = $2 AND coupa_value = ANY($3::text[])""",
        connection,
        kind,
        coupa_values,
    )
    return {row["coupa_value"]: row["deltek_value"] for row in rows}
