"""The chaos run's verdict: what Deltek holds against what Coupa approved, the records' own
stories, and whether the counts reconcile.

The voucher check is the same independent checker the demo uses (``checker.judge``, reading the
Deltek simulator). On top: an invoice with no voucher that is not parked, failed or flagged is
*lost*; every invoice's audit trail must run from ``received`` to its end state; and approved
must equal posted-once + parked + failed + flagged + lost. The report also names the posters that
ran and which faults hit each, since with several a kill may land on any of them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg

from devstack.chaos_faults import Fault
from devstack.chaos_keys import RotationOutcome
from devstack.checker import Verdict, judge, supplier_map
from devstack.driver import deltek_batches
from devstack.supervisor import SIM_CONNECTION, Stack
from shared.deltek.keys import batch_name
from shared.messages import invoice_job_id

_END_EVENTS = frozenset({"posted", "parked", "flagged", "failed"})


@dataclass
class ChaosReport:
    verdict: Verdict
    states: Counter[str]
    lost: list[str]
    incomplete_trails: list[str]
    parked_reasons: Counter[str]
    faults: Counter[Fault] = field(default_factory=Counter)
    posters: list[str] = field(default_factory=list)
    rotation: RotationOutcome | None = None
    secrets_found: list[str] = field(default_factory=list)

    @property
    def posted_once(self) -> int:
        return self.verdict.posted - self.verdict.duplicates

    @property
    def reconciles(self) -> bool:
        accounted = (
            self.posted_once
            + self.verdict.duplicates
            + self.states["parked"]
            + self.states["failed"]
            + self.states["flagged"]
            + len(self.lost)
        )
        return accounted == self.verdict.approved

    @property
    def ok(self) -> bool:
        return (
            self.posted_once == self.verdict.approved
            and not (self.verdict.duplicates or self.lost or self.incomplete_trails)
            and not self.verdict.problems
            and self.reconciles
            and (self.rotation is None or self.rotation.only_new_key)
            and not self.secrets_found
        )

    def table(self) -> str:
        rows = ["faults and what the simulators injected:"]
        rows += [f"  {count:>5}  {fault}" for fault, count in sorted(self.faults.items())]
        rows += self._poster_rows()
        rows.append("final states of the approved invoices:")
        rows += [f"  {count:>5}  {state}" for state, count in sorted(self.states.items())]
        rows.append(f"  audit trails incomplete: {len(self.incomplete_trails)}")
        rows.append(f"  counts reconcile: {'yes' if self.reconciles else 'NO'}")
        if self.rotation is not None:
            rows.append(self.rotation.line())
        rows.append(f"  secrets found in logs, metrics and tables: {len(self.secrets_found)}")
        rows += [f"  secret: {finding}" for finding in self.secrets_found[:10]]
        rows += [f"  problem: {problem}" for problem in self.verdict.problems[:10]]
        rows += [f"  lost: {key}" for key in self.lost[:10]]
        rows += [f"  trail incomplete: {key}" for key in self.incomplete_trails[:10]]
        return "\n".join(rows)

    def _poster_rows(self) -> list[str]:
        rows = [f"posters: {len(self.posters)} in one consumer group"]
        for poster in self.posters:
            hits = [
                f"{count}x {fault.action}"
                for fault, count in sorted(self.faults.items())
                if fault.target == poster
            ]
            rows.append(f"  {poster:<10} {', '.join(hits) or 'no fault hit it'}")
        return rows

    def line(self) -> str:
        reasons = "; ".join(f"{n}x {why}" for why, n in self.parked_reasons.most_common(3))
        return (
            f"chaos: {self.verdict.approved} approved, {self.posted_once} posted once, "
            f"{self.verdict.duplicates} duplicates, {len(self.lost)} lost, "
            f"{self.states['parked']} parked ({reasons or 'no reasons needed'}), "
            f"{self.states['failed']} failed"
        )


async def build_report(
    stack: Stack, invoices: list[dict[str, Any]], states: dict[str, str], faults: Counter[Fault]
) -> ChaosReport:
    assert stack.endpoints is not None
    url = stack.endpoints.database_url
    async with aiohttp.ClientSession() as http:
        batches = await deltek_batches(http, stack.child("deltek-sim").url)
    verdict = judge(
        SIM_CONNECTION,
        invoices,
        states,
        batches,
        await supplier_map(url, SIM_CONNECTION),
        label="chaos",
    )
    keys = [f"{SIM_CONNECTION}:invoice:{invoice['id']}" for invoice in invoices]
    booked = _booked_keys(invoices, batches)
    lost = [k for k in keys if k not in booked and states.get(k) not in _END_EVENTS]
    conn = await asyncpg.connect(url)
    try:
        trails = await conn.fetch(
            """SELECT record_key, array_agg(event) AS events FROM audit_events
                WHERE record_key = ANY($1::text[]) GROUP BY record_key""",
            keys,
        )
        reasons = await conn.fetch(
            """SELECT DISTINCT ON (record_key) parked_reason FROM records
                WHERE record_key = ANY($1::text[]) AND state = 'parked'
                ORDER BY record_key, id DESC""",
            keys,
        )
    finally:
        await conn.close()
    events = {row["record_key"]: set(row["events"]) for row in trails}
    incomplete = [
        k for k in keys if "received" not in events.get(k, set()) or not events[k] & _END_EVENTS
    ]
    return ChaosReport(
        verdict,
        Counter(states.get(k, "missing") for k in keys),
        lost,
        incomplete,
        Counter(str(row["parked_reason"]) for row in reasons),
        faults,
        [poster.name for poster in stack.posters()],
    )


def _booked_keys(invoices: list[dict[str, Any]], batches: list[dict[str, Any]]) -> set[str]:
    """Record keys of the invoices Deltek holds a voucher for (by their deterministic batch)."""
    present = {batch["Batch"] for batch in batches}
    return {
        f"{SIM_CONNECTION}:invoice:{invoice['id']}"
        for invoice in invoices
        if batch_name(invoice_job_id(SIM_CONNECTION, invoice["id"])) in present
    }
