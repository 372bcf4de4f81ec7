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
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

from services.cli import stack as local
from services.cli.sim_setup import prepare_sim_connection
from shared.coupa.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from shared.embedded.process import free_port
from shared.messages import batch_name, invoice_job_id
from shared.settings import Settings

_PORT_FLAGS = ("ingest", "mapper", "poster", "coupa_sim", "deltek_sim", "postgres", "broker")
_POLL_SHARE = 0.3
_REPUSH_SHARE = 0.05


def add_arguments(parser: argparse.ArgumentParser) -> None:
    local.add_arguments(parser)
    parser.add_argument("--invoices", type=int, default=50, help="how many to approve")
    parser.add_argument("--seed", type=int, default=7, help="which invoices get pushed or polled")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds to wait (default: 60 + 1 per invoice)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the demo's folder (data and logs) afterwards"
    )
    for name in _PORT_FLAGS:
        parser.set_defaults(**{f"{name}_port": None})


@dataclass
class Verdict:
    approved: int
    posted: int
    duplicates: int
    parked: int
    failed: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return self.posted == self.approved and not (
            self.duplicates or self.parked or self.failed or self.problems
        )

    def line(self) -> str:
        return (
            f"demo: {self.approved} approved, {self.posted} posted, {self.duplicates} duplicates, "
            f"{self.parked} parked, {self.failed} failed"
        )


def run(args: argparse.Namespace) -> int:
    for name in _PORT_FLAGS:
        if getattr(args, f"{name}_port") is None:
            setattr(args, f"{name}_port", free_port())
    folder = Path(tempfile.mkdtemp(prefix="connector-demo-"))
    settings = Settings(state_dir=str(folder), database_url=None, kafka_bootstrap=None)
    stack = local.Stack(args, settings, sims=True)
    stack.install_signal_handlers()
    verdict: Verdict | None = None
    try:
        started = time.monotonic()
        stack.start()
        prepare_sim_connection(stack, poll_interval_seconds=3)
        print("demo stack is up:\n" + stack.summary(), flush=True)
        print(f"stack ready in {time.monotonic() - started:.1f}s", flush=True)
        timeout = args.timeout if args.timeout is not None else 60 + args.invoices
        verdict = asyncio.run(_drive(stack, args.invoices, args.seed, timeout))
    except local.StopRequested as reason:
        print(f"demo: {reason}, stopping", flush=True)
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"demo: could not run: {exc}", file=sys.stderr)
    finally:
        stack.shutdown()
        if args.keep:
            print(f"demo folder kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    if verdict is None:
        return 1
    for problem in verdict.problems[:20]:
        print(f"  problem: {problem}")
    print(verdict.line(), flush=True)
    return 0 if verdict.ok else 1


async def _drive(stack: local.Stack, count: int, seed: int, patience: float) -> Verdict:
    assert stack.endpoints is not None
    coupa = stack.child("coupa-sim").url
    deltek = stack.child("deltek-sim").url
    ingest = f"{stack.child('ingest').url}/coupa/{local.SIM_CONNECTION}/invoices"
    rng = random.Random(seed)
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        invoices = []
        for _ in range(count):
            async with http.post(f"{coupa}/_admin/invoices", json={}) as created:
                invoice = await created.json()
            pushed = rng.random() >= _POLL_SHARE
            flag = "true" if pushed else "false"
            approve = f"{coupa}/_admin/invoices/{invoice['id']}/approve?callout={flag}"
            async with http.post(approve) as approved:
                invoice = await approved.json()
            if pushed and rng.random() < _REPUSH_SHARE:
                await _push_again(http, ingest, invoice, stack.callout_secret, times=2)
            invoices.append(invoice)
        print(f"approved {count} invoices in {time.monotonic() - started:.1f}s", flush=True)
        keys = [f"{local.SIM_CONNECTION}:invoice:{invoice['id']}" for invoice in invoices]
        states = await _wait_until_done(stack.endpoints.database_url, keys, patience)
        print(f"all done in {time.monotonic() - started:.1f}s", flush=True)
        async with http.get(f"{deltek}/_admin/batches") as answer:
            batches = await answer.json()
    supplier_map = await _supplier_map(stack.endpoints.database_url)
    return _judge(invoices, states, batches, supplier_map)


async def _push_again(
    http: aiohttp.ClientSession, url: str, invoice: dict[str, Any], secret: str, *, times: int
) -> None:
    """Deliver the Call Out again, as a Coupa that saw no answer would."""
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


async def _wait_until_done(database_url: str, keys: list[str], patience: float) -> dict[str, str]:
    """The newest state of each record once none is still on its way (or the timeout passes)."""
    deadline = time.monotonic() + patience
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            rows = await conn.fetch(
                """SELECT DISTINCT ON (record_key) record_key, state FROM records
                    WHERE record_key = ANY($1::text[]) ORDER BY record_key, id DESC""",
                keys,
            )
            states = {row["record_key"]: row["state"] for row in rows}
            moving = [k for k in keys if states.get(k) in (None, "received", "mapped", "posting")]
            if not moving or time.monotonic() > deadline:
                return states
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def _supplier_map(database_url: str) -> dict[str, str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT coupa_value, deltek_value FROM mappings WHERE connection = $1 AND kind = $2",
            local.SIM_CONNECTION,
            "supplier",
        )
    finally:
        await conn.close()
    return {row["coupa_value"]: row["deltek_value"] for row in rows}


def _judge(
    invoices: list[dict[str, Any]],
    states: dict[str, str],
    batches: list[dict[str, Any]],
    supplier_map: dict[str, str],
) -> Verdict:
    """Compare what Deltek holds with what Coupa approved, invoice by invoice."""
    by_batch: dict[str, list[dict[str, Any]]] = {}
    for batch in batches:
        by_batch.setdefault(batch["Batch"], []).append(batch)
    booked = Counter(
        (master.get("Vendor"), master.get("Invoice"))
        for batch in batches
        for master in batch.get("apMaster") or []
    )
    posted = duplicates = 0
    problems: list[str] = []
    for invoice in invoices:
        number = invoice["invoice-number"]
        job = invoice_job_id(local.SIM_CONNECTION, invoice["id"])
        found = by_batch.get(batch_name(job), [])
        vendor = supplier_map.get(str(invoice["supplier"]["number"]))
        copies = booked.get((vendor, number), 0)
        if copies > 1 or len(found) > 1:
            duplicates += 1
        if not found:
            continue
        posted += 1
        problems += _compare(invoice, found[0], vendor)
    counts = Counter(states.values())
    return Verdict(len(invoices), posted, duplicates, counts["parked"], counts["failed"], problems)


def _compare(invoice: dict[str, Any], batch: dict[str, Any], vendor: str | None) -> list[str]:
    number = invoice["invoice-number"]
    masters = batch.get("apMaster") or []
    details = batch.get("apDetail") or []
    problems = []
    if len(masters) != 1 or masters[0].get("Vendor") != vendor:
        booked_vendor = masters[0].get("Vendor") if masters else None
        problems.append(f"{number}: vendor {booked_vendor}, expected {vendor}")
    if masters and masters[0].get("Invoice") != number:
        problems.append(f"{number}: booked as invoice {masters[0].get('Invoice')}")
    total = Decimal(str(invoice["total-with-taxes"]))
    expected = -abs(total) if invoice.get("document-type") == "Credit Note" else total
    booked_total = sum((Decimal(str(d["Amount"])) for d in details), Decimal(0))
    if booked_total != expected:
        problems.append(f"{number}: lines add up to {booked_total}, Coupa's total is {expected}")
    cited = {str(line["po-number"]) for line in invoice["invoice-lines"] if line.get("po-number")}
    carried = {str(d["PONumber"]) for d in details if d.get("PONumber")}
    if cited != carried:
        problems.append(f"{number}: PO numbers {sorted(carried)}, Coupa cites {sorted(cited)}")
    return problems
