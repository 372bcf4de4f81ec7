"""How long approved invoices take to be posted in Deltek, end to end through every process."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from devstack.driver import approve, create_invoice, wait_until_settled
from devstack.supervisor import SIM_CONNECTION, Stack


async def run_once(stack: Stack, invoices: int) -> float:
    """Seconds from the first approval until every one of ``invoices`` is posted."""
    assert stack.endpoints is not None
    coupa = stack.child("coupa-sim").url
    async with aiohttp.ClientSession() as http:
        created = [await create_invoice(http, coupa) for _ in range(invoices)]
        started = time.perf_counter()
        for invoice in created:
            await approve(http, coupa, invoice["id"])
    keys = [f"{SIM_CONNECTION}:invoice:{invoice['id']}" for invoice in created]
    states = await wait_until_settled(stack.endpoints.database_url, keys, 600)
    elapsed = time.perf_counter() - started
    if set(states.values()) != {"posted"}:
        raise RuntimeError(f"not all posted: {sorted(set(states.values()))}")
    return elapsed


def report(durations: list[float], invoices: int) -> str:
    ordered = sorted(durations)
    median = ordered[len(ordered) // 2]
    each = ", ".join(f"{d:.1f}" for d in durations)
    return (
        f"pipeline: {len(durations)} runs x {invoices} approved invoices: median {median:.1f} s "
        f"to all posted ({invoices / median:.0f} invoices/s; runs {each} s)"
    )


def measure(stack: Stack, invoices: int, runs: int) -> str:
    return report([asyncio.run(run_once(stack, invoices)) for _ in range(runs)], invoices)
