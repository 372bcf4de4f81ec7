"""One job's conversation with Deltek: look the voucher up, enter it once, post its batch once.

Deltek has no idempotency key (deltek-api.md §3.C), so every write is preceded by a look-up:
``GET /DataEntry/apControl/{batch}`` finds an entered (or, on tenants that keep them, posted)
batch, and ``GET /DataEntry/apMaster/{batch}`` its voucher (the batch answer need not nest it,
§3.D); ``PSALedger/AP`` by vendor and invoice number, on the tenant's own invoice column
(``shared.tenant_facts``), finds a posted one, including one whose batch already left the entry
tables. A write whose answer was lost (``OutcomeUnknownError``) is looked up a few times with a
short backoff; if it still cannot be seen the error propagates and the handler retries the whole
job later, which again starts with a look-up. Nothing here ever sends a write twice without a
look-up in between.

A job the ledger has never seen (its claim created the row) skips the batch look-up: nothing
of ours can be in Deltek unless the ledger lost a row (a restored database). That case is still
caught, after the fact and before anything is posted: the read-back after the POST counts the
vouchers in the batch (``InDeltek.vouchers``), and a batch holding more than ours is never
posted (the handler flags it); a tenant that refuses a second POST of a batch is looked up, and
the batch found is ours. The PSALedger look-up is kept on every first attempt: it is what sees
a voucher keyed by hand.

The voucher number is always read from what Deltek holds: by default the tenant assigns it
(§3.D), so neither our request nor the POST's answer (which may be the header alone, or an echo
of what was sent) can be trusted to carry it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from shared.deltek import ApBatch, DeltekClient, LedgerRow, OutcomeUnknownError, PostingError
from shared.http import Backoff, FatalError, RetriableError
from shared.messages import PostApInvoice
from shared.tenant_facts import LedgerInvoices

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
    vouchers: int = 1  # in the batch; more than one means an entry the ledger did not know


def _first(pipe_list: str) -> str:
    """``PostTransFile`` lists are pipe-delimited per batch; we post one batch at a time."""
    return pipe_list.split("|", 1)[0]


def _ledger_evidence(rows: list[LedgerRow]) -> dict[str, Any]:
    return {"ledger_rows": [row.model_dump(mode="json", exclude_none=True) for row in rows]}


def _entered(found: InDeltek) -> bool:
    """Deltek holds our voucher, with the number it goes by."""
    return not found.foreign and found.voucher is not None


class Booking:
    """Deltek calls for one command; ``body`` is its voucher (``voucher.build_batch``)."""

    def __init__(
        self,
        client: DeltekClient,
        command: PostApInvoice,
        body: ApBatch,
        *,
        ledger: LedgerInvoices,
        lookups: int,
        backoff: Backoff,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.client = client
        self.command = command
        self.body = body
        self.ledger = ledger
        self._lookups = lookups
        self._backoff = backoff
        self._sleep = sleep

    @property
    def batch(self) -> str:
        return self.body.Batch

    async def look_up(self, *, entered_possible: bool = True) -> InDeltek | None:
        """The job's voucher as Deltek holds it, entered or posted; None when it has none.

        ``entered_possible=False`` when the ledger knows the job was never sent: only the
        ledger of posted vouchers is asked (module docstring)."""
        header = await self.client.get_ap_batch(self.batch) if entered_possible else None
        if header is not None:
            return await self._from_batch(header)
        rows = await self._posted_rows()
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

    async def _posted_rows(self) -> list[LedgerRow]:
        return await self.ledger.find_posted_invoice(
            self.command.vendor, self.command.invoice_number
        )

    async def _from_batch(self, header: ApBatch) -> InDeltek:
        """The batch ``header`` is in Deltek: its voucher from ``apMaster/{batch}``, whatever
        the header itself nests."""
        vouchers = await self.client.list_ap_vouchers(self.batch)
        master = next(
            (m for m in vouchers if m.MasterPKey == self.body.apMaster[0].MasterPKey),
            vouchers[0] if vouchers else None,
        )
        evidence = {
            "apControl": header.model_dump(
                mode="json", exclude_none=True, exclude={"apMaster", "apDetail"}
            ),
            "apMaster": [m.model_dump(mode="json", exclude_none=True) for m in vouchers],
        }
        found = InDeltek(
            batch=header.Batch,
            voucher=master.Voucher if master else None,
            period=header.Period or None,
            post_seq=None,
            posted=header.Posted == "Y",
            company=header.Company,
            evidence=evidence,
            vouchers=len(vouchers),
        )
        if not found.posted:
            return found
        # A tenant that keeps posted batches: the posting sequence is only in the ledger, and
        # so is the voucher once the entry tables let go of it.
        row = next((row for row in await self._posted_rows() if row.Batch == self.batch), None)
        if row is None:
            return found
        seq = None if row.PostSeq is None else str(row.PostSeq)
        return replace(found, post_seq=seq, voucher=found.voucher or row.Voucher)

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
        """``POST /DataEntry/apControl`` once, then the voucher as Deltek holds it (with the
        number it assigned); a lost answer is settled by looking up."""
        try:
            created = await self.client.create_ap_batch(self.body)
        except OutcomeUnknownError as lost:
            log.warning("voucher entry answer lost; looking it up", extra={"batch": self.batch})
            return await self._resolve(lost, _entered)
        except FatalError:
            # Refused: perhaps because the batch exists (a ledger row lost); if it is ours,
            # it is entered, else Deltek's words stand.
            found = await self.look_up()
            if found is not None and _entered(found):
                return found
            raise
        found = await self._from_batch(created)
        if _entered(found):
            return replace(found, period=found.period or self.body.Period)
        # Accepted, yet its voucher cannot be read back: settled like a lost answer, never
        # taken from what we sent.
        unseen = OutcomeUnknownError(
            "POST", f"DataEntry/apControl {self.batch}", "its voucher cannot be read back yet"
        )
        return await self._resolve(unseen, _entered)

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
