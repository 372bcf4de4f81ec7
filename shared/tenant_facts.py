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
"""

from __future__ import annotations

import logging

from shared.db.pool import Connection, Pool
from shared.deltek import DeltekClient, FieldMissingError, LedgerRow, NeedsAttentionError

log = logging.getLogger(__name__)

LEDGER_INVOICE_COLUMN = "ledger_invoice_column"
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

    @property
    def column(self) -> str | None:
        """The column the last look-up used (None before the first)."""
        return self._column

    async def _which_column(self) -> str:
        """The setting, else the stored fact, else what the tenant answers (then stored)."""
        if self._column is None:
            self._column = await self._stored() or await self._find_out()
        return self._column

    async def find_posted_invoice(self, vendor: str, invoice: str) -> list[LedgerRow]:
        """The ledger rows of one vendor invoice; empty only when the tenant said so."""
        try:
            column = await self._which_column()
            return await self._client.find_posted_invoice(vendor, invoice, column=column)
        except FieldMissingError as exc:
            origin = self._origin(exc.field)
            await self._forget()
            raise self._attention(
                f"Deltek's AP ledger (PSALedger/AP) has no column {exc.field}"
                f"{origin} to find posted invoices by; Deltek said: {exc.detail}"
            ) from exc

    def _origin(self, field: str) -> str:
        if field == self._fixed:
            return f" (the connection's {_SETTING})"
        return " (found out earlier)" if field == self._column else ""

    async def _find_out(self) -> str:
        for candidate in LEDGER_INVOICE_CANDIDATES:
            if await self._client.ledger_has_column(candidate):
                await self._store(candidate)
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

    async def _stored(self) -> str | None:
        value = await self._db.fetchval(
            "SELECT value FROM tenant_facts WHERE connection = $1 AND fact = $2 AND tenant = $3",
            self._connection,
            LEDGER_INVOICE_COLUMN,
            self._tenant,
        )
        return None if value is None else str(value)

    async def _store(self, value: str) -> None:
        await self._db.execute(
            """INSERT INTO tenant_facts (connection, fact, tenant, value)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (connection, fact)
               DO UPDATE SET tenant = $3, value = $4, found_at = now()""",
            self._connection,
            LEDGER_INVOICE_COLUMN,
            self._tenant,
            value,
        )

    async def _forget(self) -> None:
        self._column = self._fixed
        await self._db.execute(
            "DELETE FROM tenant_facts WHERE connection = $1 AND fact = $2",
            self._connection,
            LEDGER_INVOICE_COLUMN,
        )
