"""``connector chaos --invoices N --seconds S``: the whole stack under a fault schedule, then an
independent verdict.

While N approved invoices and a stream of supplier changes flow (pushed, polled, some pushed
twice and late), a seeded schedule breaks things every few seconds: SIGKILL of a random service
(the supervisor restarts it), the broker paused with SIGSTOP, Postgres killed and restarted,
Deltek answering 5xx, slowly, losing answers after commit, expiring tokens and throttling, Coupa
throttling and expiring tokens. With ``--posters N`` (N >= 2) the posters compete for the jobs
in one consumer group, the random kills may hit any of them, and one is SIGKILLed a third of the
way in while it holds ledger leases (``chaos_faults``). Half-way through, the master key is
rotated (``chaos_keys``). Then the faults stop, the run waits until nothing moves, and the
checker reads the Deltek and Coupa simulators and Postgres (see ``chaos_report``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import time

import aiohttp
import asyncpg

from devstack import supervisor as local
from devstack import throwaway
from devstack.chaos_faults import FaultSchedule
from devstack.chaos_keys import check_rotation, rotate_during_run
from devstack.chaos_report import ChaosReport, build_report
from devstack.driver import approve, create_invoice, push_again, wait_until_settled
from devstack.secret_sweep import stack_scanner, sweep
from devstack.throwaway import throwaway_stack


def add_arguments(parser: argparse.ArgumentParser) -> None:
    throwaway.add_arguments(parser)
    parser.add_argument("--invoices", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long faults go on")
    parser.add_argument("--every", type=float, default=3.0, help="seconds between faults")
    parser.add_argument("--seed", type=int, default=11, help="the schedule's and the load's")
    parser.add_argument("--settle", type=float, default=240.0, help="seconds to wait afterwards")
    parser.add_argument(
        "--posters",
        type=_at_least_one,
        default=1,
        help="poster processes; from 2 on, one is killed mid-run while it holds leases",
    )


def _at_least_one(text: str) -> int:
    """``--posters``: with none, nothing would post and the run would only end with ``--settle``."""
    count = int(text)
    if count < 1:
        raise argparse.ArgumentTypeError(f"at least one poster is needed, not {count}")
    return count


def run(args: argparse.Namespace) -> int:
    report: ChaosReport | None = None
    try:
        with throwaway_stack(args, label="chaos", signals=True) as stack:
            print("chaos stack is up:\n" + stack.summary(), flush=True)
            report = asyncio.run(run_chaos(stack, args))
    except local.StopRequested as reason:
        print(f"chaos: {reason}, stopping", flush=True)
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"chaos: could not run: {exc}", file=sys.stderr)
    if report is None:
        return 1
    print(report.table(), flush=True)
    print(report.line(), flush=True)
    return 0 if report.ok else 1


async def run_chaos(stack: local.Stack, args: argparse.Namespace) -> ChaosReport:
    """Load and faults together for ``args.seconds``, then settle and judge."""
    assert stack.endpoints is not None
    rng = random.Random(args.seed)
    schedule = FaultSchedule(stack, random.Random(args.seed + 1), every=args.every)
    first_key = stack.master_key
    tending = asyncio.create_task(_tend(stack))
    started = time.monotonic()
    try:
        load = asyncio.create_task(_load(stack, rng, args.invoices, args.seconds))
        rotation = asyncio.create_task(_rotate_later(stack, args.seconds / 2))
        await schedule.run(args.seconds)
        invoices = await load
        key_id = await rotation
        await schedule.heal()
        print(f"faults over after {time.monotonic() - started:.0f}s; settling", flush=True)
        await _database_back(stack.endpoints.database_url, args.settle)
        keys = [f"{local.SIM_CONNECTION}:invoice:{invoice['id']}" for invoice in invoices]
        states = await wait_until_settled(stack.endpoints.database_url, keys, args.settle)
        print(f"settled after {time.monotonic() - started:.0f}s", flush=True)
        report = await build_report(stack, invoices, states, schedule.done)
        report.rotation = await check_rotation(stack, key_id)
        scanner = stack_scanner(stack, {"master key before the rotation": first_key})
        report.secrets_found = [str(finding) for finding in await sweep(stack, scanner)]
        return report
    finally:
        tending.cancel()


async def _database_back(url: str, patience: float) -> None:
    """Wait until Postgres answers: the last fault may have been its SIGKILL, and settling and
    judging read it (``_tend`` restarts it meanwhile)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            conn = await asyncpg.connect(url)
        except (OSError, asyncpg.PostgresError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
        else:
            await conn.close()
            return


async def _rotate_later(stack: local.Stack, delay: float) -> str:
    await asyncio.sleep(delay)
    return await rotate_during_run(stack)


async def _tend(stack: local.Stack) -> None:
    """The supervisor's job during the run: restart whatever the schedule killed."""
    while True:
        stack.tend()
        await asyncio.sleep(0.2)


async def _load(
    stack: local.Stack, rng: random.Random, count: int, seconds: float
) -> list[dict[str, object]]:
    """Approve ``count`` invoices spread over ``seconds`` (70 % pushed, 30 % for the poll, some
    pushed twice and late), and change a supplier now and then, which pushes it too."""
    coupa = stack.child("coupa-sim").url
    callouts = f"{stack.child('ingest').url}/coupa/{local.SIM_CONNECTION}/invoices"
    invoices: list[dict[str, object]] = []
    late: list[dict[str, object]] = []
    pause = seconds / max(count, 1)
    async with aiohttp.ClientSession() as http:
        for n in range(count):
            created = await create_invoice(http, coupa)
            pushed = rng.random() < 0.7
            invoice = await approve(http, coupa, created["id"], callout=pushed)
            invoices.append(invoice)
            if pushed and rng.random() < 0.1:
                late.append(invoice)
            if late and rng.random() < 0.2:
                # Pushed again after newer invoices went out: a retrying Coupa, out of order.
                await _push(http, callouts, late.pop(0), stack.callout_secret)
            if n % 10 == 0:
                await _change_supplier(http, coupa, invoice, n)
            await asyncio.sleep(pause)
        for invoice in late:
            await _push(http, callouts, invoice, stack.callout_secret)
    return invoices


async def _push(
    http: aiohttp.ClientSession, url: str, invoice: dict[str, object], secret: str
) -> None:
    # Ingest may be down at that moment: Coupa would retry, and the poll backfills anyway.
    with contextlib.suppress(aiohttp.ClientError):
        await push_again(http, url, invoice, secret, times=2)


async def _change_supplier(
    http: aiohttp.ClientSession, coupa: str, invoice: dict[str, object], n: int
) -> None:
    supplier = invoice["supplier"]
    assert isinstance(supplier, dict)
    change = {"display-name": f"{supplier.get('name')} (rev {n})"}
    async with http.patch(f"{coupa}/_admin/suppliers/{supplier['id']}", json=change) as answer:
        await answer.read()
