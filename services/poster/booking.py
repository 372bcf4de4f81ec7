"""One job's conversation with Deltek: look the voucher up, enter it once, post its batch once.

Deltek has no idempotency key (deltek-api.md §3.C), so every write is preceded by a look-up:
``GET /DataEntry/apControl/{batch}`` finds an entered (or, on tenants that keep them, posted)
batch; ``PSALedger/AP`` by vendor and invoice number finds a posted one, including one whose
batch already left the entry tables. A write whose answer was lost (``OutcomeUnknownError``) is
looked up a few times with a short backoff; if it still cannot be seen the error propagates and
the handler retries the whole job later, which again starts with a look-up. Nothing here ever
sends a write twice without a look-up in between.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from shared.deltek import ApBatch, DeltekClient, LedgerRow, OutcomeUnknownError, PostingError
from shared.http import Backoff, RetriableError
from shared.messages import PostApInvoice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InDeltek:
    """What Deltek holds for a job; ``foreign`` when only another batch books the invoice."""

    batch: str
    voucher: str | None
    period: int | None
    post_seq: str | None
    posted: bool
    company: str | None = None
    foreign: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)


def _first(pipe_list: str) -> str:
    """``PostTransFile`` lists are pipe-delimited per batch; we post one batch at a time."""
    return pipe_list.split("|", 1)[0]


def _ledger_evidence(rows: list[LedgerRow]) -> dict[str, Any]:
    return {"ledger_rows": [row.model_dump(mode="json", exclude_none=True) for row in rows]}


class Booking:
    """Deltek calls for one command; ``body`` is its voucher (``voucher.build_batch``)."""

    def __init__(
        self,
        client: DeltekClient,
        command: PostApInvoice,
        body: ApBatch,
        *,
        lookups: int,
        backoff: Backoff,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.client = client
        self.command = command
        self.body = body
        self._lookups = lookups
        self._backoff = backoff
        self._sleep = sleep

    @property
    def batch(self) -> str:
        return self.body.Batch

    async def look_up(self) -> InDeltek | None:
        """The job's voucher as Deltek holds it, entered or posted; None when it has none."""
        entered = await self.client.get_ap_batch(self.batch)
        if entered is not None:
            return await self._from_batch(entered)
        rows = await self.client.find_posted_invoice(
            self.command.vendor, self.command.invoice_number
        )
        if not rows:
            return None
        ours = [row for row in rows if row.Batch in (None, self.batch)]
        row = (ours or rows)[0]
        return InDeltek(
            batch=row.Batch or self.batch,
            voucher=row.Voucher,
            period=row.Period,
            post_seq=None if row.PostSeq is None else str(row.PostSeq),
            posted=True,
            foreign=not ours,
            evidence=_ledger_evidence(rows),
        )

    async def _from_batch(self, entered: ApBatch) -> InDeltek:
        master = next(
            (m for m in entered.apMaster if m.MasterPKey == self.body.apMaster[0].MasterPKey),
            entered.apMaster[0] if entered.apMaster else None,
        )
        found = InDeltek(
            batch=entered.Batch,
            voucher=master.Voucher if master else None,
            period=entered.Period or None,
            post_seq=None,
            posted=entered.Posted == "Y",
            company=entered.Company,
            evidence={"apControl": entered.model_dump(mode="json", exclude_none=True)},
        )
        if not found.posted:
            return found
        # A tenant that keeps posted batches: the posting sequence is only in the ledger.
        rows = await self.client.find_posted_invoice(
            self.command.vendor, self.command.invoice_number
        )
        seq = next((row.PostSeq for row in rows if row.Batch == self.batch), None)
        return replace(found, post_seq=None if seq is None else str(seq))

    async def _resolve(
        self, lost: OutcomeUnknownError, done: Callable[[InDeltek], bool]
    ) -> InDeltek:
        """After a lost answer: look up until Deltek shows the write done, or give up."""
        for attempt in range(self._lookups):
            await self._sleep(self._backoff.delay(attempt))
            try:
                found = await self.look_up()
            except RetriableError as exc:
                log.info("look-up after a lost answer failed", extra={"error": str(exc)})
                continue
            if found is not None and done(found):
                return found
        raise lost

    async def enter(self) -> InDeltek:
        """``POST /DataEntry/apControl`` once; a lost answer is settled by looking up."""
        try:
            created = await self.client.create_ap_batch(self.body)
        except OutcomeUnknownError as lost:
            log.warning("voucher entry answer lost; looking it up", extra={"batch": self.batch})
            return await self._resolve(lost, lambda found: not found.foreign)
        master = created.apMaster[0] if created.apMaster else self.body.apMaster[0]
        return InDeltek(
            batch=created.Batch,
            voucher=master.Voucher,
            period=created.Period or self.body.Period,
            post_seq=None,
            posted=created.Posted == "Y",
            company=created.Company,
            evidence={"apControl": created.model_dump(mode="json", exclude_none=True)},
        )

    async def post(self, entered: InDeltek, *, company: str | None, description: str) -> InDeltek:
        """``PUT /DataEntry/PostTransFile`` once; a batch found already posted counts as posted."""
        try:
            result = await self.client.post_batch(
                self.batch,
                self.command.period,
                company=company or entered.company or "",
                description=description,
            )
        except OutcomeUnknownError as lost:
            log.warning("posting answer lost; looking it up", extra={"batch": self.batch})
            return await self._resolve(lost, lambda found: found.posted)
        except PostingError:
            found = await self.look_up()
            if found is not None and found.posted and not found.foreign:
                return found
            raise
        return replace(
            entered,
            posted=True,
            period=int(_first(result.periodList) or self.command.period),
            post_seq=_first(result.postseqList) or None,
            evidence={"PostTransFile": result.model_dump(mode="json")},
        )
