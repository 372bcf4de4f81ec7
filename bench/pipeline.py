"""The pipeline's figures, end to end through every process of a throwaway stack.

One run at a given poster count: a burst of approved invoices with the simulators as slow as
the real services (first approval → last posted), a steady trickle of approvals (each one's
approved → posted), and the burst again with latency off (for CPU per invoice). Each stretch
reads the simulators' request counts and the processes' CPU times before and after, and ends
only when every invoice is posted, which the independent checker then confirms from the Deltek
simulator; a wrong or missing voucher stops the benchmark rather than flatter it.
"""

from __future__ import annotations

import signal
import time

import aiohttp
import asyncpg

from bench.cpu import cpu_seconds
from bench.figures import PipelineRun, Window
from bench.sims import Sims
from bench.stats import growth
from bench.workload import Approval, approve_all, pending_invoices
from devstack.checker import judge, supplier_map
from devstack.driver import Invoice, deltek_batches, wait_until_settled
from devstack.supervisor import SIM_CONNECTION, Stack
from shared.embedded.process import stop
from shared.kafka.envelope import record_key

PATIENCE = 600.0
WARM_UP = 6
# A stopped poster leaves the consumer group; the others take its partitions at their next
# heartbeat (1 s), well within this.
REBALANCE_PAUSE = 3.0


def keep_posters(stack: Stack, count: int) -> None:
    """Stop every poster after the first ``count``: the others take over their partitions."""
    stopped = 0
    for child in stack.posters()[count:]:
        if child.proc is not None:
            stop(child.proc, signal.SIGTERM, stack.settings.shutdown_timeout_seconds)
            child.proc = None
            stopped += 1
    if stopped:
        time.sleep(REBALANCE_PAUSE)


def _key(invoice: Invoice) -> str:
    return record_key(SIM_CONNECTION, "invoice", invoice["id"])


class Pipeline:
    """Measures stretches of work on ``stack`` through ``http``."""

    def __init__(self, stack: Stack, http: aiohttp.ClientSession) -> None:
        assert stack.endpoints is not None
        self.stack = stack
        self.http = http
        self.sims = Sims.of(stack)
        self.database_url = stack.endpoints.database_url

    async def window(
        self, count: int, seed: int, rate: float | None = None
    ) -> tuple[Window, list[float]]:
        """Approve ``count`` new invoices (``rate`` a second, else at once) and wait until all
        are posted: the stretch as a window, and each invoice's approved → posted seconds."""
        invoices = await pending_invoices(self.http, self.sims.coupa, count, seed)
        calls, cpu = await self.sims.requests(self.http), cpu_seconds(self.stack)
        approvals = await approve_all(self.http, self.sims.coupa, invoices, rate)
        keys = [_key(approval.invoice) for approval in approvals]
        states = await wait_until_settled(self.database_url, keys, PATIENCE)
        cpu = growth(cpu, cpu_seconds(self.stack))
        calls = growth(calls, await self.sims.requests(self.http))
        unposted = sorted({states.get(key, "not received") for key in keys} - {"posted"})
        if unposted:
            raise RuntimeError(f"not every invoice was posted; also: {', '.join(unposted)}")
        await self._check(approvals, states)
        posted = await self._posted_at(keys)
        seconds = max(posted.values()) - approvals[0].at
        latencies = [
            posted[key] - approval.at for key, approval in zip(keys, approvals, strict=True)
        ]
        return Window(count, seconds, calls, cpu), latencies

    async def _posted_at(self, keys: list[str]) -> dict[str, float]:
        """When each record was posted (``time.time()`` scale), from its audit trail."""
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch(
                """SELECT record_key, min(occurred_at) AS at FROM audit_events
                    WHERE event = 'posted' AND record_key = ANY($1::text[])
                    GROUP BY record_key""",
                keys,
            )
        finally:
            await conn.close()
        return {row["record_key"]: row["at"].timestamp() for row in rows}

    async def _check(self, approvals: list[Approval], states: dict[str, str]) -> None:
        batches = await deltek_batches(self.http, self.sims.deltek)
        vendors = await supplier_map(self.database_url, SIM_CONNECTION)
        invoices = [approval.invoice for approval in approvals]
        verdict = judge(SIM_CONNECTION, invoices, states, batches, vendors, label="pipeline")
        if not verdict.ok:
            raise RuntimeError(f"{verdict.line()}; {'; '.join(verdict.problems[:5])}")

    async def warm_up(self) -> None:
        """A few invoices through every process first: tokens, caches, consumer assignments."""
        await self.sims.latency(self.http, real=True)
        await self.window(WARM_UP, seed=0)

    async def run(
        self, invoices: int, trickle_rate: float, trickle_seconds: float, seed: int
    ) -> PipelineRun:
        """One run: the burst and the trickle with latency, then the burst without."""
        await self.sims.latency(self.http, real=True)
        burst, _ = await self.window(invoices, seed)
        trickled = max(1, round(trickle_rate * trickle_seconds))
        _, latencies = await self.window(trickled, seed + 1, trickle_rate)
        await self.sims.latency(self.http, real=False)
        unslowed, _ = await self.window(invoices, seed + 2)
        return PipelineRun(burst, unslowed, latencies)
