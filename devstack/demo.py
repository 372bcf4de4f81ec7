"""``connector demo --invoices N``: the whole stack, N approved invoices, and a verdict.

The demo starts everything on the embedded default in a folder of its own (free ports unless
given), approves N new invoices in the Coupa simulator (most pushed as Call Outs, some left for
the poll to find, a few pushed twice more as a retrying Coupa would), waits until every one is
done, and then checks the Deltek simulator itself, not the connector's own bookkeeping: each
invoice must be there exactly once, on the mapped vendor, with its invoice number, its PO
numbers and lines that add up to Coupa's total.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time

import aiohttp

from devstack import supervisor as local
from devstack import throwaway
from devstack.checker import Verdict, judge, supplier_map
from devstack.driver import (
    approve,
    create_invoice,
    deltek_batches,
    push_again,
    wait_until_settled,
)
from devstack.throwaway import throwaway_stack

_POLL_SHARE = 0.3
_REPUSH_SHARE = 0.05


def add_arguments(parser: argparse.ArgumentParser) -> None:
    throwaway.add_arguments(parser)
    parser.add_argument("--invoices", type=int, default=50, help="how many to approve")
    parser.add_argument("--seed", type=int, default=7, help="which invoices get pushed or polled")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds to wait (default: 60 + 1 per invoice)"
    )


def run(args: argparse.Namespace) -> int:
    verdict: Verdict | None = None
    try:
        started = time.monotonic()
        with throwaway_stack(args, label="demo", signals=True) as stack:
            print("demo stack is up:\n" + stack.summary(), flush=True)
            print(f"stack ready in {time.monotonic() - started:.1f}s", flush=True)
            timeout = args.timeout if args.timeout is not None else 60 + args.invoices
            verdict = asyncio.run(_drive(stack, args.invoices, args.seed, timeout))
    except local.StopRequested as reason:
        print(f"demo: {reason}, stopping", flush=True)
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"demo: could not run: {exc}", file=sys.stderr)
    if verdict is None:
        return 1
    for problem in verdict.problems[:20]:
        print(f"  problem: {problem}")
    print(verdict.line(), flush=True)
    return 0 if verdict.ok else 1


async def _drive(stack: local.Stack, count: int, seed: int, patience: float) -> Verdict:
    assert stack.endpoints is not None
    coupa = stack.child("coupa-sim").url
    ingest = f"{stack.child('ingest').url}/coupa/{local.SIM_CONNECTION}/invoices"
    rng = random.Random(seed)
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        invoices = []
        for _ in range(count):
            created = await create_invoice(http, coupa)
            pushed = rng.random() >= _POLL_SHARE
            invoice = await approve(http, coupa, created["id"], callout=pushed)
            if pushed and rng.random() < _REPUSH_SHARE:
                await push_again(http, ingest, invoice, stack.callout_secret, times=2)
            invoices.append(invoice)
        print(f"approved {count} invoices in {time.monotonic() - started:.1f}s", flush=True)
        keys = [f"{local.SIM_CONNECTION}:invoice:{invoice['id']}" for invoice in invoices]
        states = await wait_until_settled(stack.endpoints.database_url, keys, patience)
        print(f"all done in {time.monotonic() - started:.1f}s", flush=True)
        batches = await deltek_batches(http, stack.child("deltek-sim").url)
    maps = await supplier_map(stack.endpoints.database_url, local.SIM_CONNECTION)
    return judge(local.SIM_CONNECTION, invoices, states, batches, maps)
