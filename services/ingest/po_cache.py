"""The purchase-order cache (``coupa_purchase_orders``): per connection, the newest version of
each PO that invoices cite or that the poll saw change, as Coupa sent it.

Invoices share purchase orders (a subcontractor bills one PO month after month) and Coupa allows
25 requests a second, so ingest asks Coupa for a PO only when no good version is kept here: the
drain answers a whole batch's POs from this table and fetches the rest in bulk (``resolve``), and
the poll stores every PO version Coupa lists as changed since its cursor (``poller.py``). A kept
version is good for an invoice while:

- the poll has listed no newer one: Coupa's ``updated-at`` is the change signal it documents for
  a PO, and one listing an interval reads it for every PO at once, where a check per invoice
  would cost the call the cache saves;
- it has every PO line the invoice cites (``order-line-id``): one that lacks a line was revised
  after it was kept, before the poll saw the change, so it is fetched again;
- Coupa sent it less than ``max_age`` ago, so a poll that stopped cannot keep a PO stale forever.

A PO number Coupa does not know is kept nowhere: the next invoice citing it asks Coupa again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from shared.coupa.client import CoupaClient
from shared.coupa.orders import OrderVersion, by_number
from shared.coupa.paging import Listed
from shared.db.pool import Connection


async def held_versions(conn: Connection, connection: str, listed: Sequence[Listed]) -> set[int]:
    """Ids of the listed POs whose listed version is the one kept."""
    rows = await conn.fetch(
        """SELECT po_id FROM coupa_purchase_orders
            WHERE connection = $1
              AND (po_id, version) IN (SELECT * FROM unnest($2::bigint[], $3::text[]))""",
        connection,
        [order.id for order in listed],
        [order.version for order in listed],
    )
    return {row["po_id"] for row in rows}


async def store(conn: Connection, connection: str, bodies: Iterable[dict[str, Any]]) -> int:
    """Keep each PO version Coupa sent unless a newer one is kept; how many rows were written.

    The same version is written again, which restarts its ``max_age``. Rows go in ascending id,
    so writers racing over the same POs (two drains, the poll) take their locks in one order.
    """
    newest: dict[int, OrderVersion] = {}
    for order in filter(None, map(OrderVersion.of, bodies)):
        if order.id not in newest or newest[order.id].updated_at <= order.updated_at:
            newest[order.id] = order
    orders = [newest[po_id] for po_id in sorted(newest)]
    if not orders:
        return 0
    rows = await conn.fetch(
        """INSERT INTO coupa_purchase_orders
                   (connection, po_id, po_number, version, updated_at, body)
           SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[],
                                    $6::jsonb[])
           ON CONFLICT (connection, po_id) DO UPDATE
              SET po_number = EXCLUDED.po_number, version = EXCLUDED.version,
                  updated_at = EXCLUDED.updated_at, body = EXCLUDED.body, fetched_at = now()
            WHERE coupa_purchase_orders.updated_at <= EXCLUDED.updated_at
           RETURNING po_id""",
        connection,
        [order.id for order in orders],
        [order.number for order in orders],
        [order.version for order in orders],
        [order.updated_at for order in orders],
        [order.body for order in orders],
    )
    return len(rows)


async def _kept(
    conn: Connection, connection: str, numbers: list[str], max_age: timedelta
) -> list[OrderVersion]:
    """The kept versions of these PO numbers that Coupa sent less than ``max_age`` ago, older
    first, so that where two POs once had one number the newer wins."""
    rows = await conn.fetch(
        """SELECT body FROM coupa_purchase_orders
            WHERE connection = $1 AND po_number = ANY($2::text[])
              AND fetched_at > now() - $3::interval
            ORDER BY updated_at""",
        connection,
        numbers,
        max_age,
    )
    return list(filter(None, (OrderVersion.of(row["body"]) for row in rows)))


async def resolve(
    conn: Connection,
    client: CoupaClient,
    connection: str,
    cited: Mapping[str, set[int]],
    max_age: timedelta,
) -> dict[str, dict[str, Any]]:
    """Coupa's JSON of each cited PO Coupa knows, by number (``cited``: number → the PO line ids
    cited): kept versions good for the citing invoices, the rest fetched in bulk and kept."""
    found = {
        order.number: order.body
        for order in await _kept(conn, connection, list(cited), max_age)
        if cited[order.number] <= order.line_ids
    }
    missing = [number for number in cited if number not in found]
    if missing:
        fetched = await client.purchase_orders_by_number(missing)
        await store(conn, connection, fetched)
        found.update(by_number(fetched))
    return found
