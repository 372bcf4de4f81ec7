"""Pulling the Deltek reference cache from Deltek: what is read for each kind, and the refresh.

Each kind is fetched completely before its transaction opens (``cache.replace``), so a failed
read changes nothing. Each kind replaced notifies the mapper in its own transaction
(``shared.mappings.notify_changed``), which then reloads the connection's reference data and
retries records parked for want of a vendor, account, project or open period.

Choices where Deltek's documents are silent:

* Vendors are the firms with ``VendorInd = 'Y'`` (deltek-api.md §2.2), inactive ones included so
  the mapper can say "inactive" rather than "unknown".
* A period's closed flag is read from ``Closed`` (``Y``/``N`` or a boolean; the key is ❓, §4);
  a period without one counts as open, and Deltek refuses a closed one at posting anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from shared.db.pool import Pool
from shared.deltek import DeltekClient, FilterHash, Period
from shared.reference.cache import KINDS, Kind, Row, replace


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


async def refresh(
    pool: Pool, client: DeltekClient, connection: str, kinds: tuple[Kind, ...] = KINDS
) -> dict[Kind, int]:
    """Pull ``kinds`` from Deltek and replace the connection's cached rows; rows kept by kind.

    Raises what the client raises; kinds replaced before the failure stay replaced.
    """
    counts: dict[Kind, int] = {}
    for kind in kinds:
        rows = await FETCH[kind](client)
        async with pool.acquire() as conn, conn.transaction():
            counts[kind] = await replace(conn, connection, kind, rows)
    return counts
