"""How fast ingest answers Coupa Call Outs: latency percentiles, paced and flat out.

Each request is a signed push of a distinct invoice version (an approved invoice with a fresh
id), so every one is accepted into the inbox, not short-cut as a duplicate. Two shapes: pushes
at a steady rate (what Coupa does, one per approval) and a closed loop of concurrent senders (as
fast as ingest can take them). Both run while the rest of the stack works off what was pushed.
"""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

import aiohttp
import orjson

from bench.stats import median, percentile
from devstack.supervisor import SIM_CONNECTION, Stack
from shared.coupa.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign


class Pusher:
    """Sends signed pushes of copies of one approved invoice, each with a new id."""

    def __init__(self, stack: Stack, http: aiohttp.ClientSession, template: dict[str, Any]) -> None:
        self._url = f"{stack.child('ingest').url}/coupa/{SIM_CONNECTION}/invoices"
        self._secret = stack.callout_secret
        self._http = http
        self._template = template

    async def push(self, invoice_id: int) -> float:
        invoice = copy.deepcopy(self._template)
        invoice["id"] = invoice_id
        body = orjson.dumps(invoice)
        stamp = str(int(time.time()))
        headers = {
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(self._secret, stamp, body),
            "Content-Type": "application/json",
        }
        started = time.perf_counter()
        async with self._http.post(self._url, data=body, headers=headers) as answer:
            await answer.read()
            if answer.status != 202:
                raise RuntimeError(f"push answered {answer.status}")
        return time.perf_counter() - started


async def _pusher(stack: Stack, http: aiohttp.ClientSession) -> Pusher:
    coupa = stack.child("coupa-sim").url
    async with http.post(f"{coupa}/_admin/invoices", json={"status": "approved"}) as created:
        template: dict[str, Any] = await created.json()
    return Pusher(stack, http, template)


async def paced(stack: Stack, requests: int, rate: float, first_id: int) -> list[float]:
    """Latencies of ``requests`` pushes started at a steady ``rate`` per second."""
    async with aiohttp.ClientSession() as http:
        pusher = await _pusher(stack, http)
        started = time.perf_counter()
        tasks = []
        for n in range(requests):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(pusher.push(first_id + n)))
        return list(await asyncio.gather(*tasks))


async def flat_out(stack: Stack, requests: int, concurrency: int, first_id: int) -> list[float]:
    """Latencies of ``requests`` pushes from ``concurrency`` senders that never pause."""
    async with aiohttp.ClientSession() as http:
        pusher = await _pusher(stack, http)
        ids = iter(range(first_id, first_id + requests))
        latencies: list[float] = []

        async def sender() -> None:
            for invoice_id in ids:
                latencies.append(await pusher.push(invoice_id))

        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return latencies


def figures(runs: list[list[float]]) -> dict[str, float]:
    """The median over runs of each run's p50 and p99, in milliseconds."""
    return {
        "p50_ms": median([percentile(run, 0.50) for run in runs]) * 1000,
        "p99_ms": median([percentile(run, 0.99) for run in runs]) * 1000,
    }
