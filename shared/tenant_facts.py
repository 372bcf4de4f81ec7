"""What the connector finds out about each connection's Vantagepoint tenant, kept in
``tenant_facts`` (this module is that table's only reader and writer).

Some tenant differences cannot be set through the API and are not documented per tenant
(deltek-api.md §3.D). One decides whether the poster can see a posted voucher at all: which
PSALedger/AP column holds the vendor's invoice number, ``Invoice`` or ``InvoiceNumber`` (§3.C).
The connection setting ``deltek.ledger_invoice_column`` fixes it; otherwise the first look-up
asks the tenant (one capped ledger read per candidate, answered with rows or "field does not
exist") and stores the answer with the tenant it was found on, so a connection pointed at
another tenant finds it out again.

A look-up answered "field does not exist" is a configuration error, never "not posted" (that
would book the invoice a second time): the stored answer is forgotten and the connection is
marked as needing attention with the reason, the latch a 401 to a fresh token sets
(``TokenManager.mark_attention``). Every later call of that connection then fails fast, its
jobs wait unposted (the poster records why on each), and posting resumes once the connection is
applied again (which rebuilds its client) or the poster restarts.

The second fact is whether the tenant's PSALedger honours the ``in`` operator (one source
documents it, deltek-api.md §5). Proven on a posted row (``DeltekClient.ledger_in_works``), it
lets the look-ups of all the jobs in flight go out together (``shared.coalesce``): one ledger
read per round trip instead of one per invoice. Until it is proven (an empty ledger proves
nothing; it is asked again every ``IN_RECHECK_SECONDS``) and on a tenant that fails it, every
invoice is looked up on its own, as before.
"""

from __future__ import annotations

import asyncio
import logging
import time

from shared.coalesce import Coalescer
from shared.db.pool import Connection, Pool
from shared.deltek import (
    DeltekClient,
    FieldMissingError,
    LedgerBatchUnsureError,
    LedgerRow,
    NeedsAttentionError,
)
from shared.http import FatalError, RetriableError

log = logging.getLogger(__name__)

LEDGER_INVOICE_COLUMN = "ledger_invoice_column"
LEDGER_IN_OPERATOR = "ledger_in_operator"
# Pairs per batched ledger read: the query string stays near a kilobyte and 25 jobs' look-ups
# share one call.
LEDGER_BATCH_MAX = 25
IN_RECHECK_SECONDS = 300.0
# The columns seen holding the vendor's invoice number (§3.C), in the order they are tried.
LEDGER_INVOICE_CANDIDATES = ("Invoice", "InvoiceNumber")
_SETTING = "deltek.ledger_invoice_column"


class LedgerInvoices:
    """Ledger look-ups by vendor invoice for one connection, on its tenant's own column."""

    def __init__(
        self,
        db: Pool | Connection,
        client: DeltekClient,
        connection: str,
        *,
        fixed: str | None = None,
    ) -> None:
        self._db = db
        self._client = client
        self._connection = connection
        self._fixed = fixed
        self._column = fixed
        self._tenant = f"{client.config.api}#{client.config.database}"
        self._in_works: bool | None = None
        self._in_asked_at: float | None = None
        # Jobs in flight all ask at once: one of them finds a fact out, the others wait for it.
        self._finding_out = asyncio.Lock()
        self._batched: Coalescer[tuple[str, str], list[LedgerRow] | Exception] = Coalescer(
            self._read_many, max_keys=LEDGER_BATCH_MAX, missing=list
        )

    @property
    def column(self) -> str | None:
        """The column the last look-up used (None before the first)."""
        return self._column

    async def _which_column(self) -> str:
        """The setting, else the stored fact, else what the tenant answers (then stored)."""
        if self._column is None:
            async with self._finding_out:
                if self._column is None:
                    self._column = await self._stored() or await self._find_out()
        return self._column

    async def find_posted_invoice(self, vendor: str, invoice: str) -> list[LedgerRow]:
        """The ledger rows of one vendor invoice; empty only when the tenant said so."""
        try:
            column = await self._which_column()
            if "," not in vendor + invoice and await self._in_proven(column):
                found = await self._batched.get((vendor.strip(), invoice.strip()))
                if isinstance(found, Exception):
                    raise found
                return found
            return await self._client.find_posted_invoice(vendor, invoice, column=column)
        except FieldMissingError as exc:
            origin = self._origin(exc.field)
            await self._forget()
            raise self._attention(
                f"Deltek's AP ledger (PSALedger/AP) has no column {exc.field}"
                f"{origin} to find posted invoices by; Deltek said: {exc.detail}"
            ) from exc

    async def _read_many(
        self, pairs: list[tuple[str, str]]
    ) -> dict[tuple[str, str], list[LedgerRow] | Exception]:
        """One ``in`` read for the pairs when it can be trusted whole; else each pair alone, so
        one pair's failure is its caller's only (the others get their own answer)."""
        column = await self._which_column()
        if len(pairs) > 1:
            try:
                return dict(await self._client.find_posted_invoices(pairs, column=column))
            except LedgerBatchUnsureError as exc:
                log.info("batched ledger read not trusted; one by one", extra={"why": str(exc)})
                if exc.ignored:  # the tenant stopped honouring 'in': never batch again here
                    self._in_works = False
                    await self._store(LEDGER_IN_OPERATOR, "no")
            except NeedsAttentionError:
                raise
            except FatalError as exc:
                log.info("batched ledger read refused; one by one", extra={"error": str(exc)})
        found: dict[tuple[str, str], list[LedgerRow] | Exception] = {}
        for vendor, invoice in pairs:
            try:
                found[(vendor, invoice)] = await self._client.find_posted_invoice(
                    vendor, invoice, column=column
                )
            except Exception as exc:  # handed to that pair's caller, as its own read would
                found[(vendor, invoice)] = exc
        return found

    async def _in_proven(self, column: str) -> bool:
        """Whether ``in`` works on this tenant: the stored fact, else the tenant asked (at most
        once per ``IN_RECHECK_SECONDS`` while nothing proves or refutes it)."""
        async with self._finding_out:
            due = self._in_asked_at is None or (
                time.monotonic() - self._in_asked_at >= IN_RECHECK_SECONDS
            )
            if self._in_works is None and due:
                self._in_asked_at = time.monotonic()
                self._in_works = await self._in_fact(column)
        return bool(self._in_works)

    async def _in_fact(self, column: str) -> bool | None:
        stored = await self._stored(LEDGER_IN_OPERATOR)
        if stored is not None:
            return stored == "yes"
        try:
            works = await self._client.ledger_in_works(column, list_size=LEDGER_BATCH_MAX)
        except NeedsAttentionError:
            raise
        except (RetriableError, FatalError) as exc:
            # An optimisation's proof never fails a job: asked again in IN_RECHECK_SECONDS.
            log.info("could not ask the ledger about 'in'", extra={"error": str(exc)})
            return None
        if works is not None:
            await self._store(LEDGER_IN_OPERATOR, "yes" if works else "no")
            log.info(
                "found whether the AP ledger honours 'in'",
                extra={"connection": self._connection, "in_works": works},
            )
        return works

    def _origin(self, field: str) -> str:
        if field == self._fixed:
            return f" (the connection's {_SETTING})"
        return " (found out earlier)" if field == self._column else ""

    async def _find_out(self) -> str:
        for candidate in LEDGER_INVOICE_CANDIDATES:
            if await self._client.ledger_has_column(candidate):
                await self._store(LEDGER_INVOICE_COLUMN, candidate)
                log.info(
                    "found the AP ledger's invoice column",
                    extra={"connection": self._connection, "column": candidate},
                )
                return candidate
        raise self._attention(
            "Deltek's AP ledger (PSALedger/AP) has none of the columns "
            f"{', '.join(LEDGER_INVOICE_CANDIDATES)} to find posted invoices by"
        )

    def _attention(self, problem: str) -> NeedsAttentionError:
        return self._client.auth.mark_attention(
            f"{problem}. Nothing is posted for connection {self._connection} until "
            f"{_SETTING} names the column holding the vendor's invoice number and the "
            "connection is applied again"
        )

    async def _stored(self, fact: str = LEDGER_INVOICE_COLUMN) -> str | None:
        value = await self._db.fetchval(
            "SELECT value FROM tenant_facts WHERE connection = $1 AND fact = $2 AND tenant = $3",
            self._connection,
            fact,
            self._tenant,
        )
        return None if value is None else str(value)

    async def _store(self, fact: str, value: str) -> None:
        await self._db.execute(
            """INSERT INTO tenant_facts (connection, fact, tenant, value)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (connection, fact)
               DO UPDATE SET tenant = $3, value = $4, found_at = now()""",
            self._connection,
            fact,
            self._tenant,
            value,
        )

    async def _forget(self) -> None:
        """Whether ``in`` works was found on the forgotten column: forgotten with it."""
        self._column = self._fixed
        self._in_works = self._in_asked_at = None
        await self._db.execute(
            "DELETE FROM tenant_facts WHERE connection = $1 AND fact = ANY($2::text[])",
            self._connection,
            [LEDGER_INVOICE_COLUMN, LEDGER_IN_OPERATOR],
        )
