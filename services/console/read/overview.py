"""Per connection: how many records are in each state, what waits longest, and how the
connection looks as far as the database knows (its polls, its inbox, its reference cache)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.console.read import LATEST
from services.console.read.flagged import NOT_ACKNOWLEDGED
from shared.connections.store import list_connections
from shared.db.pool import Connection


@dataclass
class ConnectionOverview:
    name: str
    mode: str = "unknown"
    # Invoices and suppliers apart: supplier records stay ``received`` when the connection does
    # not create vendors, which must not read as invoices stuck on their way.
    states: dict[str, int] = field(default_factory=dict)
    supplier_states: dict[str, int] = field(default_factory=dict)
    posted_today: int = 0
    oldest_parked_key: str | None = None
    oldest_parked_invoice: str = ""
    oldest_parked_supplier: str = ""
    oldest_parked_since: datetime | None = None
    # When a poll last read every Coupa feed to its end, whether it found changes or not.
    last_poll: datetime | None = None
    inbox_waiting: int = 0
    inbox_oldest: datetime | None = None
    inbox_error: str | None = None
    failed_key: str | None = None
    failed_invoice: str = ""
    failed_error: str | None = None
    reference_refreshed: datetime | None = None
    # Flagged records someone acknowledged: still flagged, but no longer waiting for a person.
    flagged_acknowledged: int = 0

    @property
    def total(self) -> int:
        return sum(self.states.values())


async def overview(conn: Connection) -> list[ConnectionOverview]:
    """Every stored connection, and any connection records still name, by name."""
    found: dict[str, ConnectionOverview] = {}

    def of(name: str) -> ConnectionOverview:
        return found.setdefault(name, ConnectionOverview(name))

    for stored in await list_connections(conn):
        of(stored.name).mode = stored.settings.mode
    # A flagged record someone acknowledged is counted apart: "flagged" is what waits for a person.
    for row in await conn.fetch(
        f"""WITH {LATEST}
            SELECT connection, kind = 'supplier' AS supplier, state,
                   count(*) FILTER (WHERE state <> 'flagged' OR {NOT_ACKNOWLEDGED}) AS n,
                   count(*) FILTER (WHERE state = 'flagged' AND NOT {NOT_ACKNOWLEDGED}) AS seen,
                   count(*) FILTER (WHERE state = 'posted' AND kind = 'invoice'
                                      AND updated_at >= date_trunc('day', now(), 'UTC')) AS today
              FROM latest r GROUP BY 1, 2, 3"""  # noqa: S608 - only constant SQL is put in
    ):
        item = of(row["connection"])
        if row["n"]:
            counts = item.supplier_states if row["supplier"] else item.states
            counts[row["state"]] = row["n"]
        item.flagged_acknowledged += row["seen"]
        item.posted_today += row["today"]
    for row in await conn.fetch(
        f"""WITH {LATEST}
            SELECT DISTINCT ON (connection) connection, record_key, updated_at,
                   payload->'invoice'->>'invoice-number' AS invoice_number,
                   coalesce(payload->'invoice'->'supplier'->>'name',
                            payload->'invoice'->'supplier'->>'number') AS supplier
              FROM latest WHERE state = 'parked' AND kind = 'invoice'
             ORDER BY connection, updated_at"""  # noqa: S608 - only constant SQL is put in
    ):
        item = of(row["connection"])
        item.oldest_parked_key, item.oldest_parked_since = row["record_key"], row["updated_at"]
        item.oldest_parked_invoice = row["invoice_number"] or ""
        item.oldest_parked_supplier = row["supplier"] or ""
    for row in await conn.fetch(
        f"""WITH {LATEST}
            SELECT DISTINCT ON (connection) connection, record_key, last_error,
                   payload->'invoice'->>'invoice-number' AS invoice_number
              FROM latest WHERE state = 'failed' ORDER BY connection, updated_at DESC"""  # noqa: S608 - only constant SQL is put in
    ):
        item = of(row["connection"])
        item.failed_key, item.failed_error = row["record_key"], row["last_error"]
        item.failed_invoice = row["invoice_number"] or ""
    for row in await conn.fetch("SELECT connection, polled_at FROM coupa_polls"):
        of(row["connection"]).last_poll = row["polled_at"]
    for row in await conn.fetch(
        """SELECT connection, count(*) AS n, min(received_at) AS oldest,
                  (array_agg(last_error ORDER BY id DESC)
                     FILTER (WHERE last_error IS NOT NULL))[1] AS error
             FROM coupa_inbox WHERE published_at IS NULL AND parked_at IS NULL
            GROUP BY connection"""
    ):
        item = of(row["connection"])
        item.inbox_waiting, item.inbox_oldest, item.inbox_error = (
            row["n"],
            row["oldest"],
            row["error"],
        )
    for row in await conn.fetch(
        "SELECT connection, min(refreshed_at) AS at FROM reference_refreshes GROUP BY connection"
    ):
        of(row["connection"]).reference_refreshed = row["at"]
    for item in found.values():
        item.states = dict(sorted(item.states.items()))
        item.supplier_states = dict(sorted(item.supplier_states.items()))
    return [found[name] for name in sorted(found)]
