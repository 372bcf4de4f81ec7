"""Telling everyone how a job went: the ledger, the record and its audit trail, deltek.results.

Database changes of one outcome commit together; the result is published after the commit, so a
crash in between re-runs the job, which finds the ledger and publishes the same result again
(``InvoicePosted`` and ``WriteFailed`` are safe to receive twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel

from services.poster.booking import InDeltek
from services.poster.jobs import SERVICE, Command, Job, Outcome, PosterDeps
from services.poster.vendor_plan import FieldChange
from shared import ledger
from shared.db.pool import Connection
from shared.deltek import ApBatch
from shared.http import FatalError
from shared.kafka.envelope import Envelope
from shared.ledger import Entry, Refs
from shared.logs import scrub
from shared.messages import (
    INVOICE_POSTED,
    WRITE_FAILED,
    InvoicePosted,
    PostApInvoice,
    UpsertVendor,
    WriteFailed,
)
from shared.records import append_audit, transition


class Reporter:
    def __init__(self, deps: PosterDeps) -> None:
        self.deps = deps

    async def posting(self, job: Job[Command], entry: Entry) -> None:
        details = {**ledger.summary(entry), "owner": self.deps.owner}
        async with self.deps.pool.acquire() as conn:
            await self.move(conn, job, "posting", "posting", details)

    async def step(
        self,
        job: Job[PostApInvoice],
        event: Literal["entered", "batch_posted"],
        refs: Refs,
        *,
        outcome: Outcome,
        found: InDeltek,
        request: dict[str, Any] | None = None,
    ) -> None:
        """Ledger and audit trail after a Deltek step, with what was sent and what came back."""
        details: dict[str, Any] = {"outcome": outcome, **refs.details()}
        if request is not None:
            details["request"] = request
        details["response"] = found.evidence
        async with self.deps.pool.acquire() as conn, conn.transaction():
            await ledger.record_step(conn, job.job_id, "entered", refs)
            await self.audit(conn, job, event, details)

    async def finish(
        self,
        job: Job[PostApInvoice],
        outcome: Outcome,
        refs: Refs,
        *,
        posted: bool,
        first: bool = False,
    ) -> None:
        """The job is in Deltek: ledger and record say so, then ``deltek.results`` hears it.

        ``first`` when this handling did the work (not a redelivery the ledger answered).
        """
        details = {"outcome": outcome, "posted": posted, "deltek_ref": refs.deltek_ref()}
        async with self.deps.pool.acquire() as conn, conn.transaction():
            if first:
                await ledger.record_step(conn, job.job_id, "posted", refs)
            if job.record_state == "posted":
                await self.audit(conn, job, "result_republished", details)
            else:
                await self.move(
                    conn,
                    job,
                    "posted",
                    "posted",
                    {**details, **refs.details()},
                    deltek_ref=refs.deltek_ref(),
                )
        result = InvoicePosted(
            job_id=job.job_id,
            record_key=job.command.record_key,
            batch=refs.batch,
            master_pkey=refs.master_pkey,
            outcome=outcome,
            posted=posted,
            voucher=refs.voucher,
            period=refs.period,
            post_seq=refs.post_seq,
        )
        await self.publish(job, INVOICE_POSTED, result)
        self.deps.metrics.jobs.labels(job.connection, outcome).inc()
        if first and job.command.approved_at is not None:
            waited = (self.deps.clock() - job.command.approved_at).total_seconds()
            self.deps.metrics.approved_to_posted.labels(job.connection).observe(max(0.0, waited))

    async def park(
        self, job: Job[Command], refs: Refs | None, reason: str, error: FatalError | None
    ) -> None:
        """Deltek refused (its message verbatim after our lead), or no voucher could be built.

        The reason is scrubbed once here for the ledger; the record, the audit trail and
        ``WriteFailed`` scrub what they are given as well (which changes nothing a second time).
        """
        reason = scrub(reason)
        details = {"reason": reason, **(refs.details() if refs else {})}
        if error is not None:
            details |= {"deltek_status": error.status, "deltek_message": error.detail}
        async with self.deps.pool.acquire() as conn, conn.transaction():
            await ledger.record_step(conn, job.job_id, "parked", refs, error=reason)
            await self.move(conn, job, "parked", "parked", details, reason=reason)
        await self.fail(job, "parked", reason)

    async def waiting(self, job: Job[Command], reason: str) -> None:
        """The connection needs a person: the record's story says why it waits, once per reason
        (the ledger's last error, set when the lease is released, is the reason last told)."""
        async with self.deps.pool.acquire() as conn:
            entry = await ledger.read_entry(conn, job.job_id)
            # The ledger keeps the reason scrubbed (``Attempt.release``): compare it so.
            if entry is None or entry.last_error != scrub(reason):
                await self.audit(conn, job, "waiting", {"reason": reason})

    async def changed(self, job: Job[PostApInvoice], entry: Entry, *, ledger_parks: bool) -> None:
        """Changed in Coupa after Deltek got it: a person decides; nothing is ever reversed."""
        async with self.deps.pool.acquire() as conn:
            sent_total = await conn.fetchval(
                """SELECT command->>'total' FROM records
                    WHERE job_id = $1 AND command IS NOT NULL AND id IS DISTINCT FROM $2::bigint
                    ORDER BY (state = 'posted') DESC, id DESC LIMIT 1""",
                job.job_id,
                job.record_id,
            )
        reason = (
            f"Changed in Coupa after it reached Deltek as voucher {entry.refs.voucher} in batch "
            f"{entry.refs.batch}; the connector never reverses a voucher, so compare both "
            "versions and correct Deltek by hand if needed"
        )
        details = {
            "sent_content_hash": entry.content_hash,
            "new_content_hash": job.content_hash,
            "sent_total": sent_total,
            "new_total": str(job.command.total),
            **ledger.summary(entry),
        }
        await self._flag(job, entry.refs, reason, details, ledger_parks=ledger_parks)

    async def booked_elsewhere(
        self, job: Job[PostApInvoice], entry: Entry, found: InDeltek
    ) -> None:
        """Deltek books this vendor invoice in a batch we did not create: never book it again."""
        reason = (
            f"Deltek already books invoice {job.command.invoice_number} of vendor "
            f"{job.command.vendor} in batch {found.batch} (voucher {found.voucher}), which the "
            "connector did not create; not entered again so it is not paid twice"
        )
        details = {"found": found.evidence, "new_content_hash": job.content_hash}
        await self._flag(job, entry.refs, reason, details, ledger_parks=True)

    async def entered_twice(self, job: Job[PostApInvoice], entry: Entry, found: InDeltek) -> None:
        """The job's batch holds more vouchers than ours: an entry the ledger did not know (a
        restored database). The batch is not posted, so nothing is booked twice."""
        reason = (
            f"Deltek's batch {found.batch} holds {found.vouchers} vouchers for invoice "
            f"{job.command.invoice_number} of vendor {job.command.vendor}: it was entered before "
            "and the connector's ledger did not know (a restored database?). The batch was not "
            "posted; delete the extra voucher in Transaction Center, then replay the record"
        )
        details = {"found": found.evidence, "vouchers": found.vouchers}
        await self._flag(job, entry.refs, reason, details, ledger_parks=True)

    async def would_post(
        self, job: Job[PostApInvoice], body: ApBatch, found: InDeltek | None
    ) -> None:
        """Preview mode: the record and its story say what would be sent; nothing was, and the
        ledger row says so (``previewed`` counts as nothing booked), so going live sends it."""
        details = {
            "would": "enter the voucher" if found is None else "post the batch",
            "request": body.model_dump(mode="json", exclude_none=True),
        }
        await self._previewed(job, "would_post", details)

    async def would_sync(
        self, job: Job[UpsertVendor], action: str, changes: Sequence[FieldChange]
    ) -> None:
        """Preview mode: the vendor firm writes that would be made, field by field."""
        details = {"would": f"{action} the vendor firm", "changes": [asdict(c) for c in changes]}
        await self._previewed(job, "would_sync", details)

    async def _previewed(self, job: Job[Command], event: str, details: dict[str, Any]) -> None:
        async with self.deps.pool.acquire() as conn, conn.transaction():
            await ledger.record_step(conn, job.job_id, "previewed")
            await self.move(conn, job, "previewed", event, details)
        self.deps.metrics.jobs.labels(job.connection, "previewed").inc()

    async def superseded(self, conn: Connection, job: Job[Command], newer: str) -> None:
        if job.record_state != "superseded":
            details = {"newer_version": newer, "version": job.command.coupa_version}
            await self.move(conn, job, "superseded", "superseded", details)
            self.deps.metrics.jobs.labels(job.connection, "superseded").inc()

    async def _flag(
        self,
        job: Job[PostApInvoice],
        refs: Refs,
        reason: str,
        details: dict[str, Any],
        *,
        ledger_parks: bool,
    ) -> None:
        if job.record_state == "flagged":  # a redelivery: the person was told already
            async with self.deps.pool.acquire() as conn:
                await self.audit(conn, job, "redelivered", {"reason": reason})
            return
        async with self.deps.pool.acquire() as conn, conn.transaction():
            if ledger_parks:
                await ledger.record_step(conn, job.job_id, "parked", refs, error=reason)
            await self.move(conn, job, "flagged", "flagged", details, reason=reason)
        await self.fail(job, "flagged", reason)

    async def fail(
        self, job: Job[Command], kind: Literal["parked", "flagged"], reason: str
    ) -> None:
        failed = WriteFailed(
            job_id=job.job_id, record_key=job.command.record_key, kind=kind, reason=reason
        )
        await self.publish(job, WRITE_FAILED, failed)
        self.deps.metrics.jobs.labels(job.connection, kind).inc()

    async def move(
        self,
        conn: Connection,
        job: Job[Command],
        state: str,
        event: str,
        details: dict[str, Any],
        *,
        reason: str | None = None,
        deltek_ref: str | None = None,
    ) -> None:
        """Record state change plus audit event; only the audit event when no record is stored."""
        if job.record_id is None:
            await self.audit(conn, job, event, details)
            return
        await transition(
            conn,
            record_id=job.record_id,
            record_key=job.command.record_key,
            state=state,
            service=SERVICE,
            event=event,
            details={"job_id": job.job_id, **details},
            coords=job.coords,
            job_id=job.job_id,
            reason=reason,
            deltek_ref=deltek_ref,
        )

    async def audit(
        self, conn: Connection, job: Job[Command], event: str, details: dict[str, Any]
    ) -> None:
        await append_audit(
            conn,
            record_key=job.command.record_key,
            record_id=job.record_id,
            service=SERVICE,
            event=event,
            details={"job_id": job.job_id, **details},
            coords=job.coords,
        )

    async def publish(self, job: Job[Command], schema: str, payload: BaseModel) -> None:
        envelope = Envelope(
            schema=schema,
            connection=job.connection,
            key=job.command.record_key,
            source=job.envelope.source,
            trace_id=job.envelope.trace_id,
            payload=payload.model_dump(mode="json"),
        )
        await self.deps.publisher.publish(self.deps.topics.deltek_results, envelope)
