"""Timing the naive script (``bench.naive``) on a simulator pair of its own, and checking it.

The script gets what a customer's would have: the connection's credentials and Deltek posting
settings, and the maps the stack was given (read once from its Postgres, outside the timing).
It is timed from its first request to its last posting, in this process, whose CPU time is
then the script's own. Its vouchers are judged by the same checker as the pipeline's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg

from bench.figures import Window
from bench.naive import Crosswalk, book_approved
from bench.sims import Sims
from bench.stats import growth
from bench.workload import approve_all, pending_invoices
from devstack.checker import judge
from devstack.driver import deltek_batches
from devstack.sim_setup import SIM_MAPPING, sim_connection
from devstack.supervisor import SIM_CONNECTION, Stack
from shared.connection_settings import DeltekPostingSettings
from shared.coupa import CoupaClient, CoupaClientConfig
from shared.deltek import DeltekClient, DeltekConfig
from shared.mappings import load_mappings

# Its job ids (and so batch names) are its own, apart from the pipeline's connection.
NAIVE_CONNECTION = "naive"


async def crosswalk(stack: Stack) -> Crosswalk:
    """The stack's maps: the pair has the stack's seeds, so they hold for its data too."""
    assert stack.endpoints is not None
    conn = await asyncpg.connect(stack.endpoints.database_url)
    try:
        maps = await load_mappings(conn, SIM_CONNECTION)
    finally:
        await conn.close()
    return Crosswalk(maps["supplier"], maps["account"], maps["project"], SIM_MAPPING)


@dataclass(frozen=True)
class Baseline:
    """The naive script's simulator pair, and what it is given to work with."""

    pair: Sims
    coupa: CoupaClientConfig
    deltek: DeltekConfig
    posting: DeltekPostingSettings
    walk: Crosswalk

    async def run(self, http: aiohttp.ClientSession, invoices: int, seed: int) -> Window:
        """``invoices`` approved in the pair's Coupa, then booked by the naive script."""
        coupa_url = self.pair.coupa
        approvals = await approve_all(
            http, coupa_url, await pending_invoices(http, coupa_url, invoices, seed)
        )
        since = datetime.fromtimestamp(approvals[0].at, UTC) - timedelta(seconds=1)
        calls = await self.pair.requests(http)
        cpu, started = time.process_time(), time.perf_counter()
        async with CoupaClient(self.coupa) as coupa, DeltekClient(self.deltek) as deltek:
            posted = await book_approved(
                coupa, deltek, self.walk, self.posting, since=since, connection=NAIVE_CONNECTION
            )
        seconds = time.perf_counter() - started
        spent = {"naive script": time.process_time() - cpu}
        calls = growth(calls, await self.pair.requests(http))
        verdict = judge(
            NAIVE_CONNECTION,
            [approval.invoice for approval in approvals],
            {},
            await deltek_batches(http, self.pair.deltek),
            dict(self.walk.vendors),
            label="naive",
        )
        if not verdict.ok or posted != invoices:
            raise RuntimeError(f"{verdict.line()}; {'; '.join(verdict.problems[:5])}")
        return Window(invoices, seconds, calls, spent)


async def naive_runs(stack: Stack, pair: Sims, invoices: int, runs: int) -> list[Window]:
    """``runs`` runs of the naive script over ``invoices`` invoices each, on ``pair``."""
    connection = sim_connection(stack)
    baseline = Baseline(
        pair,
        connection.coupa_config(base_url=pair.coupa),
        connection.deltek_config(base_url=f"{pair.deltek}/api"),
        connection.settings.deltek,
        await crosswalk(stack),
    )
    windows = []
    async with aiohttp.ClientSession() as http:
        await pair.latency(http, real=True)
        for run in range(runs):
            window = await baseline.run(http, invoices, seed=run)
            windows.append(window)
            print(
                f"naive script, run {run + 1}/{runs}: {window.throughput:.2f} invoices/s",
                flush=True,
            )
    return windows
