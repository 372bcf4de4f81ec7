"""Driving the simulators as people would: approving invoices in Coupa, and Coupa re-pushing.

Shared by ``connector demo`` and the end-to-end tests, so both exercise the stack the same way.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import asyncpg
import orjson

from shared.coupa.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

Invoice = dict[str, Any]
# A record still on its way through the pipeline.
MOVING = (None, "received", "mapped", "posting")


async def create_invoice(http: aiohttp.ClientSession, coupa: str, **fields: Any) -> Invoice:
    """A new pending invoice in the Coupa simulator (random supplier and PO unless given)."""
    async with http.post(f"{coupa}/_admin/invoices", json=fields) as created:
        created.raise_for_status()
        invoice: Invoice = await created.json()
    return invoice


async def create_purchase_order(http: aiohttp.ClientSession, coupa: str) -> dict[str, Any]:
    """A new issued purchase order in the Coupa simulator; invoices cite it by ``po_id``."""
    async with http.post(f"{coupa}/_admin/purchase_orders") as created:
        created.raise_for_status()
        order: dict[str, Any] = await created.json()
    return order


async def approve(
    http: aiohttp.ClientSession, coupa: str, invoice_id: int, *, callout: bool = True
) -> Invoice:
    """An approver's click; without ``callout`` the push never arrives: only the poll finds it."""
    flag = "true" if callout else "false"
    async with http.post(f"{coupa}/_admin/invoices/{invoice_id}/approve?callout={flag}") as answer:
        answer.raise_for_status()
        invoice: Invoice = await answer.json()
    return invoice


async def push_again(
    http: aiohttp.ClientSession, url: str, invoice: Invoice, secret: str, *, times: int
) -> None:
    """Deliver the Call Out again, signed, as a Coupa that saw no answer would."""
    body = orjson.dumps(invoice)
    for _ in range(times):
        stamp = str(int(time.time()))
        headers = {
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(secret, stamp, body),
            "Content-Type": "application/json",
        }
        async with http.post(url, data=body, headers=headers) as answer:
            await answer.read()


async def wait_until_settled(
    database_url: str, keys: list[str], patience: float, *, settled: tuple[str, ...] = ()
) -> dict[str, str]:
    """The newest state of each record once none is still moving (or ``patience`` runs out).

    ``settled`` lists further states to wait through (e.g. "parked" when it should resume).
    """
    deadline = time.monotonic() + patience
    waiting = (*MOVING, *settled)
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            rows = await conn.fetch(
                """SELECT DISTINCT ON (record_key) record_key, state FROM records
                    WHERE record_key = ANY($1::text[]) ORDER BY record_key, id DESC""",
                keys,
            )
            states = {row["record_key"]: row["state"] for row in rows}
            if all(states.get(k) not in waiting for k in keys) or time.monotonic() > deadline:
                return states
            await asyncio.sleep(0.3)
    finally:
        await conn.close()


async def deltek_batches(http: aiohttp.ClientSession, deltek: str) -> list[dict[str, Any]]:
    """Every AP batch the Deltek simulator holds, with vouchers and lines."""
    async with http.get(f"{deltek}/_admin/batches") as answer:
        answer.raise_for_status()
        batches: list[dict[str, Any]] = await answer.json()
    return batches
