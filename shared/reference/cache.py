"""The Deltek reference cache in Postgres: its tables, how a kind is replaced, how it is read.

Vendors, GL accounts, projects/phases/tasks and periods of each connection, copied from Deltek
(``refresh.py``) so every mapped line is checked against a real firm, account and project before
it is sent. Each kind is replaced as a whole in one transaction: rows Deltek no longer has
disappear, and a reader sees the old set or the new one, never half of each. An advisory lock per
connection and kind serialises two posters refreshing the same kind at once. An empty answer
never empties a kind that has rows: a role without access, or a broken filter, must not make
every invoice look unmappable. It is logged and left due.

Every write here sends ``notify_changed`` in the writer's transaction, so the mapper, which
holds each connection's view in memory (``services/mapper/snapshots.py``), hears of each change
the moment it commits, and of none that did not.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from shared.db.pool import Connection, Pool
from shared.mappings import load_mappings, notify_changed
from shared.reference.view import CachedProject, GlAccount, OpenPeriod, Reference, Vendor

log = logging.getLogger(__name__)

Kind = Literal["vendors", "accounts", "projects", "periods"]
KINDS: tuple[Kind, ...] = ("vendors", "accounts", "projects", "periods")
Row = tuple[Any, ...]


@dataclass(frozen=True)
class Table:
    """Where a kind is cached: the table, its columns after ``connection``, its key width."""

    name: str
    columns: tuple[str, ...]
    key_width: int  # the leading columns that form the primary key with the connection

    def select(self) -> str:
        # Table and column names come from TABLES below, never from input.
        return f"SELECT {', '.join(self.columns)} FROM {self.name} WHERE connection = $1"  # noqa: S608


TABLES: dict[Kind, Table] = {
    "vendors": Table("deltek_vendors", ("client_id", "vendor", "name", "status", "tax_id"), 1),
    "accounts": Table("deltek_accounts", ("account", "name", "status", "type"), 1),
    "projects": Table(
        "deltek_projects",
        ("wbs1", "wbs2", "wbs3", "name", "status", "charge_type", "sub_level"),
        3,
    ),
    "periods": Table("deltek_periods", ("period", "starts_on", "ends_on", "closed"), 1),
}


def unique(rows: list[Row], key_width: int) -> list[Row]:
    """One row per key, the last seen winning: a page that shifted must not break the copy."""
    return list({row[:key_width]: row for row in rows}.values())


async def replace(conn: Connection, connection: str, kind: Kind, rows: list[Row]) -> int:
    """Replace the cached rows of ``kind`` with ``rows`` (one per key); rows kept after.

    The caller owns the transaction, so the NOTIFY sent here goes out on its commit.
    """
    table = TABLES[kind]
    rows = unique(rows, table.key_width)
    count_sql = f"SELECT count(*) FROM {table.name} WHERE connection = $1"  # noqa: S608
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"{connection}:{kind}")
    if not rows:
        held = int(await conn.fetchval(count_sql, connection))
        if held:
            log.warning(
                "deltek answered no rows; keeping the cached ones",
                extra={"connection": connection, "kind": kind, "cached": held},
            )
            return held
    await conn.execute(f"DELETE FROM {table.name} WHERE connection = $1", connection)  # noqa: S608
    await conn.copy_records_to_table(
        table.name,
        records=[(connection, *row) for row in rows],
        columns=["connection", *table.columns],
    )
    await conn.execute(
        """INSERT INTO reference_refreshes (connection, kind, rows) VALUES ($1, $2, $3)
           ON CONFLICT (connection, kind) DO UPDATE SET rows = $3, refreshed_at = now()""",
        connection,
        kind,
        len(rows),
    )
    await notify_changed(conn, connection)
    return len(rows)


async def due_kinds(
    conn: Connection | Pool, connection: str, interval_seconds: float
) -> tuple[Kind, ...]:
    """Kinds never refreshed, or not within ``interval_seconds`` (by the database clock)."""
    fresh = {
        row["kind"]
        for row in await conn.fetch(
            """SELECT kind FROM reference_refreshes
                WHERE connection = $1 AND refreshed_at > now() - make_interval(secs => $2)""",
            connection,
            float(interval_seconds),
        )
    }
    return tuple(kind for kind in KINDS if kind not in fresh)


async def load_reference(conn: Connection, connection: str) -> Reference:
    """Everything resolution checks against, for one connection; each kind, and the maps, as
    one committed set (``replace`` swaps a kind whole), so no kind is ever seen half replaced."""
    async with conn.transaction():
        rows = {
            kind: [tuple(row) for row in await conn.fetch(TABLES[kind].select(), connection)]
            for kind in KINDS
        }
        maps = await load_mappings(conn, connection)
    return reference_from_rows(rows, maps)


def reference_from_rows(
    rows: Mapping[Kind, list[Row]], maps: Mapping[str, Mapping[str, str]]
) -> Reference:
    """The resolution view over rows in ``TABLES`` column order, from the cache or straight
    from Deltek (``connector preview`` reads Deltek without touching the cache)."""
    return Reference.build(
        vendors=[Vendor(*row) for row in rows.get("vendors", [])],
        accounts=[GlAccount(*row) for row in rows.get("accounts", [])],
        projects=[
            CachedProject(wbs1, wbs2.strip(), wbs3.strip(), name, status, charge, sub_level)
            for wbs1, wbs2, wbs3, name, status, charge, sub_level in rows.get("projects", [])
        ],
        open_periods=[
            _open_period(period, starts_on, ends_on)
            for period, starts_on, ends_on, closed in rows.get("periods", [])
            if not closed
        ],
        maps=maps,
    )


def _open_period(period: int, starts_on: date | None, ends_on: date | None) -> OpenPeriod:
    """A period without dates is its calendar month (``YYYYMM``)."""
    first = date(period // 100, period % 100, 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return OpenPeriod(period, starts_on or first, ends_on or following - timedelta(days=1))


async def load_vendor_reference(conn: Connection, connection: str) -> Reference:
    """Only the vendors and supplier maps: what finding a supplier's firm needs."""
    vendors = await conn.fetch(TABLES["vendors"].select(), connection)
    return Reference.build(
        vendors=[Vendor(**dict(row)) for row in vendors],
        maps=await load_mappings(conn, connection, ("supplier",)),
    )


async def cache_vendor(conn: Connection, connection: str, vendor: Vendor) -> None:
    """One firm as the cache would hold it after the next refresh, now (after a vendor sync).

    Sent in the caller's transaction, the NOTIFY goes out when the firm is committed.
    """
    await conn.execute(
        """INSERT INTO deltek_vendors (connection, client_id, vendor, name, status, tax_id)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (connection, client_id) DO UPDATE
              SET vendor = EXCLUDED.vendor, name = EXCLUDED.name, status = EXCLUDED.status,
                  tax_id = EXCLUDED.tax_id, refreshed_at = now()""",
        connection,
        vendor.client_id,
        vendor.vendor,
        vendor.name,
        vendor.status,
        vendor.tax_id,
    )
    await notify_changed(conn, connection)
