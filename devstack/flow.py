"""What ``connector dev`` shows while it runs: invoices flowing, one line each as they land.

With the simulators running, a new invoice is approved in the Coupa simulator every few seconds
(``--trickle``, 0 to stop), so a person sees the whole path work: Call Out, mapping, voucher.
Every invoice that reaches an end state (posted, parked, flagged, failed) is printed once, with
its Deltek reference or the reason a clerk would need.
"""

from __future__ import annotations

import time
from datetime import datetime

import aiohttp
import asyncpg

from devstack.driver import approve, create_invoice

_END_STATES = ["posted", "parked", "flagged", "failed"]


class FlowWatch:
    """Call ``tick`` often (from the supervisor's loop); it does its work when it is due."""

    def __init__(self, database_url: str, coupa: str | None, trickle_seconds: float) -> None:
        self._database_url = database_url
        self._coupa = coupa
        self._trickle = trickle_seconds
        self._next_approval = time.monotonic() + trickle_seconds
        self._next_look = 0.0
        self._seen_until: datetime | None = None
        self._conn: asyncpg.Connection | None = None
        self._http: aiohttp.ClientSession | None = None

    async def tick(self) -> None:
        now = time.monotonic()
        if self._coupa and self._trickle > 0 and now >= self._next_approval:
            self._next_approval = now + self._trickle
            await self._approve_one()
        if now >= self._next_look:
            self._next_look = now + 1.0
            await self._show_landed()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._conn is not None:
            await self._conn.close()

    async def _approve_one(self) -> None:
        assert self._coupa is not None
        if self._http is None:
            self._http = aiohttp.ClientSession()
        try:
            created = await create_invoice(self._http, self._coupa)
            await approve(self._http, self._coupa, created["id"])
        except aiohttp.ClientError as exc:
            print(f"trickle: the Coupa simulator did not answer ({exc})", flush=True)

    async def _show_landed(self) -> None:
        if self._conn is None:
            self._conn = await asyncpg.connect(self._database_url)
            self._seen_until = await self._conn.fetchval("SELECT now()")
        rows = await self._conn.fetch(
            """SELECT record_key, state, deltek_ref, coalesce(parked_reason, last_error) AS why,
                      payload -> 'invoice' ->> 'invoice-number' AS number,
                      payload -> 'invoice' ->> 'total-with-taxes' AS total,
                      payload -> 'invoice' -> 'currency' ->> 'code' AS currency,
                      payload -> 'invoice' -> 'supplier' ->> 'name' AS supplier, updated_at
                 FROM records
                WHERE kind = 'invoice' AND state = ANY($1::text[]) AND updated_at > $2
                ORDER BY updated_at""",
            _END_STATES,
            self._seen_until,
        )
        for row in rows:
            self._seen_until = row["updated_at"]
            what = f"invoice {row['number']} | {row['supplier']} | {row['total']} {row['currency']}"
            where = f"Deltek {row['deltek_ref']}" if row["state"] == "posted" else row["why"]
            print(f"{row['state']:<7} {what} -> {where}", flush=True)
