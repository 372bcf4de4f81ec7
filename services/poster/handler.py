"""The poster's handler for ``deltek.writes``: vouchers here, vendor firms in ``vendors.py``.

``PostApInvoice``: claim, look up, enter once, post once, report.

Per command: an older Coupa version is ``superseded`` when a newer one is stored; otherwise the
job is claimed in the ledger (``ledger.py``), the record moves to ``posting``, Deltek is asked
whether it holds the voucher (``booking.py``), the voucher is entered if not, its batch posted if
the connection says so, and ledger, record, audit trail and ``deltek.results`` are told.

| What happened | Ledger | Record | Published on deltek.results |
|---|---|---|---|
| entered (and posted) now | posted | posted | InvoicePosted(created) |
| Deltek already held it | posted | posted | InvoicePosted(already_entered / already_posted) |
| ledger says posted, same content | unchanged | posted | InvoicePosted(already_posted) again |
| changed in Coupa after it reached Deltek | unchanged, or parked | flagged | WriteFailed(flagged) |
| the invoice is booked in a batch we did not create | parked | flagged | WriteFailed(flagged) |
| its batch holds another voucher too (never posted) | parked | flagged | WriteFailed(flagged) |
| Deltek refused (4xx, message kept) or bad voucher | parked | parked | WriteFailed(parked) |
| 429/5xx/network, lost answer unseen | released | posting | none: TransientError |
| connection needs a person (credentials, ledger column) | released | posting | none: waits |
| another poster holds a live lease | unchanged | unchanged | none: TransientError |

A refusal parks with Deltek's message after the step's lead, except a voucher refused because
its vendor is inactive: that parks as "vendor V is inactive in Deltek", which says what to fix
(the vendor, not the voucher), with Deltek's own words kept in the audit details.

A connection that needs a person stops every job of it alike, none parked one by one: the
record's story gets a ``waiting`` event with the reason, and the job waits like a transient one.
A transient failure releases the lease at once (every handling begins with a look-up, so whoever
goes on next is safe) and raises ``TransientError``: the consumer loop retries with backoff.
A failure that is not transient still releases the lease and propagates, so the loop's
attempt limit and dead-letter topic apply. A single record never holds its partition for a
person: a partition waits only while Deltek or the database is unreachable, or while the whole
connection needs a person.
"""

from __future__ import annotations

import logging
import re
from weakref import WeakKeyDictionary

from services.poster.attempt import Attempt
from services.poster.booking import Booking, InDeltek
from services.poster.jobs import SERVICE, Job, Outcome, PosterDeps, claim_job, holding, load_job
from services.poster.report import Reporter
from services.poster.vendors import VendorSync
from services.poster.voucher import VoucherError, batch_description, build_batch
from shared.call_context import for_message
from shared.deltek import DeltekClient
from shared.http import Backoff, FatalError
from shared.kafka.consumer import TransientError
from shared.kafka.envelope import Coordinates, Envelope
from shared.ledger import Claim, Refs
from shared.messages import POST_AP_INVOICE, UPSERT_VENDOR, PostApInvoice
from shared.records import append_audit
from shared.tenant_facts import LedgerInvoices

log = logging.getLogger(__name__)

# By the step that failed: what we were doing, and the plain-English lead for Deltek's message.
_DOING = {
    "prepare": "preparing the voucher",
    "look_up": "looking the invoice up",
    "enter": "entering the voucher",
    "post": "posting the batch",
}
_REFUSED = {
    "prepare": "Not sent to Deltek",
    "look_up": "Deltek refused to look this invoice up",
    "enter": "Deltek refused the voucher",
    "post": "Deltek entered the voucher but did not post its batch",
}
_MAX_LOOKUP_BACKOFF_SECONDS = 10.0
# Deltek refusing a voucher because its vendor is inactive. Its wording is not documented (the
# simulator says "Vendor 000056 is inactive."), so any refusal calling the vendor inactive.
# Deltek's wording is not documented; the simulator's is "Vendor X is inactive." Only a message
# that says the vendor itself is inactive counts (not an inactive account on its voucher).
_INACTIVE = re.compile(r"^\s*vendor\s+\S+\s+is\s+inactive\b", re.IGNORECASE)


class PostHandler:
    """``await handler(envelope, coords)`` for each message on ``deltek.writes``."""

    def __init__(self, deps: PosterDeps) -> None:
        self.deps = deps
        self.report = Reporter(deps)
        self.vendors = VendorSync(deps, self.report)
        # One per client and setting, so the column found out is not read again for every job;
        # a connection applied again gets a new client, and with it a fresh look.
        self._ledgers: WeakKeyDictionary[DeltekClient, dict[str | None, LedgerInvoices]] = (
            WeakKeyDictionary()
        )

    def _ledger(self, client: DeltekClient, connection: str, fixed: str | None) -> LedgerInvoices:
        by_setting = self._ledgers.setdefault(client, {})
        if fixed not in by_setting:
            by_setting[fixed] = LedgerInvoices(self.deps.pool, client, connection, fixed=fixed)
        return by_setting[fixed]

    async def __call__(self, envelope: Envelope, coords: Coordinates) -> None:
        """Every Deltek call made for the message is measured and logged with its record."""
        with for_message(envelope):
            await self._dispatch(envelope, coords)

    async def _dispatch(self, envelope: Envelope, coords: Coordinates) -> None:
        if envelope.schema_name == UPSERT_VENDOR:
            await self.vendors(envelope, coords)
            return
        if envelope.schema_name != POST_AP_INVOICE:
            await self._note_other(envelope, coords)
            return
        command = PostApInvoice.model_validate(envelope.payload)
        async with holding(self.deps, command.job_id):
            await self._handle(envelope, coords, command)

    async def _handle(
        self, envelope: Envelope, coords: Coordinates, command: PostApInvoice
    ) -> None:
        async with self.deps.pool.acquire() as conn:
            job, newer = await load_job(conn, envelope, coords, command)
            if newer is not None and job.record_state not in ("posted", "flagged"):
                await self.report.superseded(conn, job, newer)
                return
            claim = await claim_job(conn, self.deps, job)
        if claim.action == "busy":
            entry = claim.entry
            raise TransientError(
                f"job {job.job_id} is held by {entry.owner} until {entry.lease_until}"
            )
        if claim.action == "already_posted":
            refs = claim.entry.refs
            await self.report.finish(job, "already_posted", refs, posted=refs.post_seq is not None)
        elif claim.action == "changed_after_post":
            await self.report.changed(job, claim.entry, ledger_parks=False)
        else:
            await self._work(job, claim)

    async def _note_other(self, envelope: Envelope, coords: Coordinates) -> None:
        """A command of a schema this poster does not know is only recorded."""
        details = {"event_id": str(envelope.event_id), "schema": envelope.schema_name}
        async with self.deps.pool.acquire() as conn:
            await append_audit(
                conn,
                record_key=envelope.key,
                service=SERVICE,
                event="command_received",
                details=details,
                coords=coords,
            )

    async def _work(self, job: Job[PostApInvoice], claim: Claim) -> None:
        """Everything after a successful claim; see the module docstring for the outcomes."""
        await self.report.posting(job, claim.entry)
        attempt = Attempt(self.deps, job.job_id, job.connection, "prepare")
        progress = [claim.entry.refs]  # where the voucher is known to be, for a refusal

        async def park(reason: str, error: FatalError | None) -> None:
            if attempt.step == "enter" and error is not None and _INACTIVE.search(error.detail):
                reason = f"vendor {job.command.vendor} is inactive in Deltek"
            await self.report.park(job, progress[-1], reason, error)

        await attempt.run(
            lambda: self._steps(job, claim, attempt, progress),
            doing=_DOING,
            refused=_REFUSED,
            park=park,
            wait=lambda reason: self.report.waiting(job, reason),
            refusals=(VoucherError,),
        )

    async def _steps(
        self, job: Job[PostApInvoice], claim: Claim, attempt: Attempt, progress: list[Refs]
    ) -> None:
        settings = await self.deps.connections.settings_for(job.connection)
        if settings is None:
            raise VoucherError(f"connection {job.connection!r} is not configured")
        tuning = self.deps.tuning
        client = await self.deps.connections.client_for(job.connection)
        self.deps.metrics.deltek_call_limit.labels(job.connection).set(client.concurrency.limit)
        booking = Booking(
            client,
            job.command,
            build_batch(job.command, settings.deltek),
            ledger=self._ledger(client, job.connection, settings.deltek.ledger_invoice_column),
            lookups=tuning.lost_answer_lookups,
            backoff=Backoff(
                initial=tuning.lost_answer_backoff_seconds,
                maximum=_MAX_LOOKUP_BACKOFF_SECONDS,
            ),
            sleep=self.deps.sleep,
        )
        attempt.step = "look_up"
        found = await booking.look_up(entered_possible=not claim.fresh)
        if found is not None and found.foreign:
            await self.report.booked_elsewhere(job, claim.entry, found)
            return
        if found is not None and found.vouchers > 1:
            await self.report.entered_twice(job, claim.entry, found)
            return
        if found is not None and claim.entry.content_hash != job.content_hash:
            await self.report.changed(job, claim.entry, ledger_parks=True)
            return
        if settings.mode == "preview" and (
            found is None or (settings.deltek.post_batches and not found.posted)
        ):
            await self.report.would_post(job, booking.body, found)
            return
        outcome: Outcome = "already_entered"
        request = None
        if found is None:
            attempt.step, outcome = "enter", "created"
            await attempt.hold(sending=job.content_hash)
            request = booking.body.model_dump(mode="json", exclude_none=True)
            found = await booking.enter()
            if found.vouchers > 1:
                await self.report.entered_twice(job, claim.entry, found)
                return
        elif found.posted:
            outcome = "already_posted"
        progress.append(self._refs(job, found))
        await self.report.step(
            job, "entered", progress[-1], outcome=outcome, found=found, request=request
        )
        if settings.deltek.post_batches and not found.posted:
            attempt.step = "post"
            await attempt.hold()
            found = await booking.post(
                found,
                company=settings.deltek.company,
                description=batch_description(job.command),
            )
            progress.append(self._refs(job, found))
            await self.report.step(job, "batch_posted", progress[-1], outcome=outcome, found=found)
        await self.report.finish(job, outcome, progress[-1], posted=found.posted, first=True)

    @staticmethod
    def _refs(job: Job[PostApInvoice], found: InDeltek) -> Refs:
        base = job.base_refs
        return Refs(base.batch, base.master_pkey, found.voucher, found.period, found.post_seq)
