"""The Deltek reference cache: vendors, GL accounts, projects/phases/tasks and periods in Postgres.

The mapper checks every line against these tables, so each kind is replaced as a whole in one
transaction: rows Deltek no longer has disappear, and a reader sees the old set or the new one,
never half of each. An advisory lock per connection and kind serialises two posters refreshing
the same kind at once. After a refresh, ``NOTIFY connector_mappings, '<connection>'`` tells the
mapper to retry records parked for want of a vendor, account, project or open period.

Choices where Deltek's documents are silent:

* Vendors are the firms with ``VendorInd = 'Y'`` (deltek-api.md §2.2), inactive ones included so
  the mapper can say "inactive" rather than "unknown".
* A period's closed flag is read from ``Closed`` (``Y``/``N`` or a boolean; the key is ❓, §4);
  a period without one counts as open, and Deltek refuses a closed one at posting anyway.
* An empty answer never empties a kind that has rows: a role without access, or a broken
  filter, must not make every invoice look unmappable. It is logged and left due.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from shared.db.pool import Pool
from shared.deltek import DeltekClient, FilterHash, Period

log = logging.getLogger(__name__)

Kind = Literal["vendors", "accounts", "projects", "periods"]
KINDS: tuple[Kind, ...] = ("vendors", "accounts", "projects", "periods")
CHANNEL = "connector_mappings"
Row = tuple[Any, ...]


@dataclass(frozen=True)
class Table:
    """Where a kind is cached: the table, its columns after ``connection``, its key width."""

    name: str
    columns: tuple[str, ...]
    key_width: int  # the leading columns that form the primary key with the connection


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


async def _vendors(client: DeltekClient) -> list[Row]:
    firms = client.iter_firms(FilterHash().where("VendorInd", "Y"))
    return [
        (f.ClientID, f.Vendor, f.Name or f.ClientID, f.Status or "", f.FedID)
        async for f in firms
        if f.ClientID and f.VendorInd == "Y"  # the filter is checked, not trusted
    ]


async def _accounts(client: DeltekClient) -> list[Row]:
    return [
        (a.Account, a.Name or "", a.Status or "", None if a.Type is None else str(a.Type))
        async for a in client.iter_accounts()
    ]


async def _projects(client: DeltekClient) -> list[Row]:
    rows: list[Row] = []
    levels: tuple[Literal["wbs1", "wbs2", "wbs3"], ...] = ("wbs1", "wbs2", "wbs3")
    for level in levels:
        projects = client.iter_projects(level=level)
        rows += [
            (p.WBS1, p.WBS2, p.WBS3, p.Name or "", p.Status or "", p.ChargeType, p.SubLevel == "Y")
            async for p in projects
        ]
    return rows


def is_closed(period: Period) -> bool:
    flag = (period.model_extra or {}).get("Closed")
    return flag is True or (isinstance(flag, str) and flag.strip().upper() in ("Y", "TRUE"))


async def _periods(client: DeltekClient) -> list[Row]:
    return [
        (p.Period, p.AccountPdStart, p.AccountPdEnd, is_closed(p))
        for p in await client.list_periods()
    ]


FETCH: dict[Kind, Callable[[DeltekClient], Awaitable[list[Row]]]] = {
    "vendors": _vendors,
    "accounts": _accounts,
    "projects": _projects,
    "periods": _periods,
}


def unique(rows: list[Row], key_width: int) -> list[Row]:
    """One row per key, the last seen winning: a page that shifted must not break the copy."""
    return list({row[:key_width]: row for row in rows}.values())


async def refresh(
    pool: Pool, client: DeltekClient, connection: str, kinds: tuple[Kind, ...] = KINDS
) -> dict[Kind, int]:
    """Pull ``kinds`` from Deltek and replace the connection's cached rows; rows kept by kind.

    Each kind is fetched completely before its transaction opens, so a failed read changes
    nothing. Raises what the client raises; kinds replaced before the failure stay replaced.
    """
    counts: dict[Kind, int] = {}
    try:
        for kind in kinds:
            table = TABLES[kind]
            rows = unique(await FETCH[kind](client), table.key_width)
            counts[kind] = await _replace(pool, connection, kind, table, rows)
    finally:
        if counts:
            await pool.execute("SELECT pg_notify($1, $2)", CHANNEL, connection)
    return counts


async def _replace(pool: Pool, connection: str, kind: Kind, table: Table, rows: list[Row]) -> int:
    # Table and column names come from TABLES above, never from input.
    count_sql = f"SELECT count(*) FROM {table.name} WHERE connection = $1"  # noqa: S608
    async with pool.acquire() as conn, conn.transaction():
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
    return len(rows)


async def due_kinds(pool: Pool, connection: str, interval_seconds: float) -> tuple[Kind, ...]:
    """Kinds never refreshed, or not within ``interval_seconds`` (by the database clock)."""
    fresh = {
        row["kind"]
        for row in await pool.fetch(
            """SELECT kind FROM reference_refreshes
                WHERE connection = $1 AND refreshed_at > now() - make_interval(secs => $2)""",
            connection,
            float(interval_seconds),
        )
    }
    return tuple(kind for kind in KINDS if kind not in fresh)
