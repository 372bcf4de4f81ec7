"""The Deltek Vantagepoint REST client: the connector's one seam to a tenant.

It relies only on documented behaviour (deltek-api.md), never on simulator shortcuts: bare-array
answers, ``filterHash`` as the only ledger filter, 200 or 201 on POST, JSON-string posting
answers. Reads retry with backoff; writes retry only when the tenant says it did nothing (429,
5xx other than gateway errors) and otherwise surface ``OutcomeUnknownError``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal, TypeVar

import aiohttp
import orjson

from shared.deltek.auth import TokenManager
from shared.deltek.config import DeltekConfig
from shared.deltek.errors import (
    AMBIGUOUS_WRITE_STATUSES,
    FieldMissingError,
    LedgerBatchUnsureError,
    OutcomeUnknownError,
    PostingError,
    error_for_response,
)
from shared.deltek.models import (
    Account,
    ApBatch,
    ApDetail,
    ApMaster,
    BankCode,
    DeltekRecord,
    Firm,
    FirmAddress,
    LedgerRow,
    Period,
    PostResult,
    Project,
    VendorAccounting,
)
from shared.deltek.query import FilterHash, Pages
from shared.deltek.transport import Answer, Transport
from shared.http import FatalError, RetryPolicy, TokenBucket, call_with_retries
from shared.http.adaptive import AdaptiveLimit
from shared.http.session import SessionOwner

M = TypeVar("M", bound=DeltekRecord)
Params = Sequence[tuple[str, str]]
# A value no vendor invoice has: probing a column must not read the ledger.
_PROBE_VALUE = "~connector column probe~"


def _encode(body: Mapping[str, Any]) -> bytes:
    """Decimals go out as exact JSON numbers, as in Deltek's samples (§3.A)."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return orjson.Fragment(str(value))
        raise TypeError(f"cannot encode {type(value).__name__}")

    return orjson.dumps(body, default=default)


def _decode(body: bytes) -> Any:
    """Parse with decimals kept exact; amounts must never pass through float."""
    return json.loads(body, parse_float=Decimal) if body.strip() else None


def _rows(data: Any) -> list[dict[str, Any]]:
    """Deltek answers bare arrays (§5); a single object is tolerated as a one-row answer."""
    if data is None:
        return []
    rows = data if isinstance(data, list) else [data]
    return [row for row in rows if isinstance(row, dict)]


def _accounting(values: VendorAccounting) -> dict[str, Any]:
    return {k: v for k, v in values.to_body().items() if not (k == "Company" and not v)}


def _invoice_of(row: LedgerRow, column: str) -> str:
    """The vendor's invoice number on a ledger row, from the tenant's own column (§3.C)."""
    value = getattr(row, column, None) or (row.model_extra or {}).get(column)
    return str(value or "").strip()


def _holds(row: LedgerRow, vendor: str, column: str, invoice: str) -> bool:
    """Whether a ledger row is the vendor invoice asked for (Deltek may pad or trim text)."""
    return (row.Vendor or "").strip() == vendor.strip() and _invoice_of(
        row, column
    ) == invoice.strip()


def _capped(rows: int) -> list[tuple[str, str]]:
    """A read of at most ``rows`` rows, whichever of the paging words the tenant honours."""
    return [("pageSize", str(rows)), ("page", "1"), ("q.maxrows", str(rows))]


def _not_found(exc: FatalError) -> bool:
    return exc.status == 404


class DeltekClient(SessionOwner):
    """Async client for one tenant. Use as ``async with DeltekClient(config) as vp: ...``."""

    def __init__(
        self,
        config: DeltekConfig,
        *,
        session: aiohttp.ClientSession | None = None,
        retry: RetryPolicy | None = None,
        limiter: TokenBucket | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(session)
        self.config = config
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._transport = Transport(
            self._session,
            timeout_seconds=config.timeout_seconds,
            max_response_bytes=config.max_response_bytes,
            concurrency=AdaptiveLimit(config.max_in_flight),
            limiter=limiter,
        )
        self.auth = TokenManager(config, self._transport, self._retry, sleep=sleep)

    @property
    def concurrency(self) -> AdaptiveLimit:
        """How many calls this tenant is given at once now (adapts to its answers)."""
        return self._transport.concurrency

    # -- plumbing ------------------------------------------------------------------------------

    async def _call(
        self,
        method: Literal["GET", "POST", "PUT"],
        url: str,
        *,
        params: Params = (),
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """One API call with auth renewal on 401 (once) and retries of retriable errors."""
        payload = None if body is None else _encode(body)

        async def once() -> Any:
            token = await self.auth.token()
            answer = await self._transport.send(
                method, url, params=params, json_body=payload, token=token
            )
            if answer.status == 401:
                token = await self.auth.renew_after(token)
                answer = await self._transport.send(
                    method, url, params=params, json_body=payload, token=token
                )
                if answer.status == 401:
                    raise self.auth.mark_attention(f"{method} {url} answered 401 to a fresh token")
            return self._result(method, url, answer)

        return await call_with_retries(once, self._retry, sleep=self._sleep)

    @staticmethod
    def _result(method: str, url: str, answer: Answer) -> Any:
        if method != "GET" and answer.status in AMBIGUOUS_WRITE_STATUSES:
            raise OutcomeUnknownError(method, url, f"HTTP {answer.status}", status=answer.status)
        if answer.status >= 400:
            raise error_for_response(answer.status, answer.body, retry_after=answer.retry_after)
        return _decode(answer.body)

    async def _one(self, url: str, model: type[M], params: Params = ()) -> M | None:
        """A single-record read: a 404 or an empty array both mean "no such record"."""
        try:
            rows = _rows(await self._call("GET", url, params=params))
        except FatalError as exc:
            if _not_found(exc):
                return None
            raise
        return model.model_validate(rows[0]) if rows else None

    async def _all(self, url: str, model: type[M]) -> list[M]:
        """Every record of a batch-scoped read, answered at once; a 404 means none."""
        try:
            rows = _rows(await self._call("GET", url))
        except FatalError as exc:
            if _not_found(exc):
                return []
            raise
        return [model.model_validate(row) for row in rows]

    async def _iterate(
        self, url: str, model: type[M], where: FilterHash | None, params: Params = ()
    ) -> AsyncIterator[M]:
        pages = Pages(self.config.page_size)
        filters = where.to_params() if where else []
        while pages.has_more:
            rows = _rows(await self._call("GET", url, params=[*params, *filters, *pages.params()]))
            pages.advance(rows)
            for row in rows:
                yield model.model_validate(row)

    async def _write(
        self,
        method: Literal["POST", "PUT"],
        url: str,
        body: Mapping[str, Any],
        model: type[M],
        read_back: Callable[[], Awaitable[M | None]] | None = None,
    ) -> M:
        """Write and return the record answered; an answer without one is read back, because
        the write succeeded and must not look like a failure."""
        rows = _rows(await self._call(method, url, body=body))
        if rows:
            return model.model_validate(rows[0])
        found = await read_back() if read_back else None
        if found is None:
            raise OutcomeUnknownError(method, url, "the answer held no record")
        return found

    # -- firms and vendors (§2) ----------------------------------------------------------------

    def iter_firms(self, where: FilterHash | None = None) -> AsyncIterator[Firm]:
        return self._iterate(f"{self.config.api}/firm", Firm, where)

    async def get_firm(self, client_id: str) -> Firm | None:
        return await self._one(f"{self.config.api}/firm/{client_id}", Firm)

    async def create_firm(self, firm: Firm) -> Firm:
        """POST, then read back: numbers may be autonumbered or zero-padded (§2.2)."""
        url = f"{self.config.api}/firm"
        created = await self._write("POST", url, firm.to_body(), Firm)
        if created.ClientID is None:
            raise OutcomeUnknownError("POST", url, "the answer held no ClientID")
        return await self.get_firm(created.ClientID) or created

    async def update_firm(self, client_id: str, changes: Mapping[str, Any]) -> Firm:
        """PUT acts as PATCH (§0); ``CLAddress``/``VEAccounting`` arrays update children."""
        url = f"{self.config.api}/firm/{client_id}"
        return await self._write("PUT", url, changes, Firm, lambda: self.get_firm(client_id))

    async def list_addresses(self, client_id: str) -> list[FirmAddress]:
        url = f"{self.config.api}/firm/{client_id}/address"
        return [a async for a in self._iterate(url, FirmAddress, None)]

    async def add_address(self, client_id: str, address: FirmAddress) -> FirmAddress:
        url = f"{self.config.api}/firm/{client_id}/address"
        return await self._write("POST", url, address.to_body(), FirmAddress)

    async def get_vendor_accounting(self, client_id: str) -> VendorAccounting | None:
        url = f"{self.config.api}/firm/{client_id}/vendorAccountingInfo"
        return await self._one(url, VendorAccounting)

    async def update_address(self, client_id: str, address: FirmAddress) -> None:
        """Change an address through the firm's ``CLAddress`` child array (§2.1: the address
        endpoint itself does not allow edits)."""
        await self.update_firm(client_id, {"CLAddress": [address.to_body()]})

    async def upsert_vendor_accounting(self, client_id: str, values: VendorAccounting) -> None:
        """Insert via the vision endpoint the first time, else update through the firm (§2.3).

        Inserting over an existing row fails with a 500 NPE, hence the read first.
        """
        if await self.get_vendor_accounting(client_id) is None:
            await self.insert_vendor_accounting(values)
        else:
            await self.update_vendor_accounting(client_id, values)

    async def insert_vendor_accounting(self, values: VendorAccounting) -> None:
        """``POST /vision/firm/VendorAccountingInfo``; ``Company`` is never sent empty ("Cannot
        insert NULL into Company column")."""
        await self._call(
            "POST", f"{self.config.vision}/firm/VendorAccountingInfo", body=_accounting(values)
        )

    async def update_vendor_accounting(self, client_id: str, values: VendorAccounting) -> None:
        body = _accounting(values)
        body.pop("Vendor", None)
        await self._call(
            "PUT", f"{self.config.api}/firm/{client_id}", body={"VEAccounting": [body]}
        )

    # -- reference data (§4) -------------------------------------------------------------------

    def iter_accounts(self, where: FilterHash | None = None) -> AsyncIterator[Account]:
        return self._iterate(f"{self.config.api}/Accounts/", Account, where)

    def iter_projects(
        self, where: FilterHash | None = None, *, level: Literal["wbs1", "wbs2", "wbs3"] = "wbs1"
    ) -> AsyncIterator[Project]:
        """Projects, or with ``level`` their phases (wbs2) or tasks (wbs3)."""
        params = [] if level == "wbs1" else [("wbstype", level)]
        return self._iterate(f"{self.config.api}/project", Project, where, params)

    async def get_project(self, wbs1: str) -> Project | None:
        return await self._one(f"{self.config.api}/project/{wbs1}", Project)

    async def list_periods(self) -> list[Period]:
        return [p async for p in self._iterate(f"{self.config.api}/Settings/Period", Period, None)]

    async def list_bank_codes(self) -> list[BankCode]:
        """``GET /BankCode/CFGBANKS`` (§4, 🟡): the codes a voucher's ``BankCode`` may name."""
        url = f"{self.config.api}/BankCode/CFGBANKS"
        return [bank async for bank in self._iterate(url, BankCode, None)]

    async def amounts_visible(self) -> bool:
        """False when every project fee reads zero: the role likely lacks field access (§1.4)."""
        params = [("fieldFilter", "WBS1,Fee"), ("pageSize", "50"), ("page", "1")]
        rows = _rows(await self._call("GET", f"{self.config.api}/project", params=params))
        fees = [Project.model_validate(r).Fee for r in rows]
        return not fees or any(fee for fee in fees)

    # -- AP entry, posting and the ledger (§3) -------------------------------------------------

    async def create_ap_batch(self, batch: ApBatch) -> ApBatch:
        """One POST creates the batch with its vouchers and lines. A lost answer raises
        ``OutcomeUnknownError``: check ``get_ap_batch`` before trying again. The answer may hold
        the header alone, or echo what was sent: what Deltek assigned (the voucher number) is
        read with ``list_ap_vouchers``."""
        url = f"{self.config.api}/DataEntry/apControl"
        return await self._write(
            "POST", url, batch.to_body(), ApBatch, lambda: self.get_ap_batch(batch.Batch)
        )

    async def get_ap_batch(self, batch: str) -> ApBatch | None:
        """The batch header; tenants differ on nesting vouchers and lines in it (§3.D)."""
        return await self._one(f"{self.config.api}/DataEntry/apControl/{batch}", ApBatch)

    async def list_ap_vouchers(self, batch: str) -> list[ApMaster]:
        """``GET /DataEntry/apMaster/{batch}``: the batch's vouchers as Deltek holds them."""
        return await self._all(f"{self.config.api}/DataEntry/apMaster/{batch}", ApMaster)

    async def list_ap_lines(self, batch: str) -> list[ApDetail]:
        """``GET /DataEntry/apDetail/{batch}``: the lines of every voucher of the batch."""
        return await self._all(f"{self.config.api}/DataEntry/apDetail/{batch}", ApDetail)

    async def post_batch(
        self, batch: str, period: int, *, company: str, description: str = ""
    ) -> PostResult:
        """Post an entered AP batch; the answer is a JSON string holding JSON (§3.A)."""
        parms = {
            "batch": batch,
            "clientcompany": company,
            "description": description or batch,
            "period": str(period),
            "transtype": "AP",
        }
        data = await self._call(
            "PUT", f"{self.config.api}/DataEntry/PostTransFile", body={"parms": parms}
        )
        result = PostResult.model_validate(json.loads(data) if isinstance(data, str) else data)
        if not result.ok:
            raise PostingError(result.msg or f"batch {batch} was not posted", status=200)
        return result

    def iter_ap_ledger(self, where: FilterHash) -> AsyncIterator[LedgerRow]:
        """Posted AP rows. Only ``filterHash`` filters here; plain parameters are ignored (§3.C)."""
        return self._iterate(f"{self.config.api}/PSALedger/AP", LedgerRow, where)

    async def find_posted_invoice(
        self, vendor: str, invoice: str, *, column: str
    ) -> list[LedgerRow]:
        """Ledger rows of one vendor invoice; empty when it has not been posted. ``column`` is
        the tenant's vendor-invoice column (§3.C); a tenant without it raises
        ``FieldMissingError``, which is never "not posted"."""
        where = FilterHash().where("Vendor", vendor).where(column, invoice)
        rows = [row async for row in self.iter_ap_ledger(where)]
        # Rows of other invoices mean the filter was not applied: that is no answer at all, and
        # reading it as "posted" or "not posted" could lose or double-book an invoice.
        if any(not _holds(row, vendor, column, invoice) for row in rows):
            raise FieldMissingError(
                f"PSALedger/AP answered rows of other invoices for a filter on Vendor and "
                f"{column}: the filter on {column} was not applied",
                status=200,
                field=column,
            )
        return rows

    async def find_posted_invoices(
        self, wanted: Collection[tuple[str, str]], *, column: str
    ) -> dict[tuple[str, str], list[LedgerRow]]:
        """Ledger rows of several (vendor, invoice) pairs in one read, by ``in`` on ``Vendor``
        and ``column``, keyed by the pair as Deltek holds it (trimmed); only for a tenant seen
        to honour ``in`` (``ledger_in_works``).

        Trusted only whole: one page. An answer that fills the page (the vendors x
        invoices product can be large, and a tenant may cap pages silently) or holds rows
        outside the filter raises ``LedgerBatchUnsureError``: the caller reads one by one."""
        vendors = sorted({vendor.strip() for vendor, _ in wanted})
        invoices = sorted({invoice.strip() for _, invoice in wanted})
        where = FilterHash().where_in("Vendor", vendors).where_in(column, invoices)
        size = self.config.page_size
        # No ``order``: the answer is keyed by pair, and ascending ``_A`` is only inferred (§5).
        params = [*where.to_params(), *_capped(size)]
        rows = [
            LedgerRow.model_validate(row)
            for row in _rows(
                await self._call("GET", f"{self.config.api}/PSALedger/AP", params=params)
            )
        ]
        if len(rows) >= size:
            raise LedgerBatchUnsureError(f"{len(rows)} ledger rows fill a page", ignored=False)
        if any(
            (row.Vendor or "").strip() not in vendors or _invoice_of(row, column) not in invoices
            for row in rows
        ):
            raise LedgerBatchUnsureError(
                f"PSALedger/AP answered rows outside an 'in' filter on Vendor and {column}",
                ignored=True,
            )
        found: dict[tuple[str, str], list[LedgerRow]] = {}
        for row in rows:
            found.setdefault(((row.Vendor or "").strip(), _invoice_of(row, column)), []).append(row)
        return found

    async def ledger_in_works(self, column: str, *, list_size: int) -> bool | None:
        """Whether PSALedger/AP honours ``in`` on ``Vendor`` and ``column`` for lists of
        ``list_size`` values, proven on posted rows: up to two known (vendor, invoice) pairs are
        asked for inside lists padded with values no invoice has, one in the middle and one
        last, and both must come back, with nothing else. A tenant that ignores the operator
        answers other rows; one that reads the list as one value, only its first or last
        element, or only part of a long list misses a known pair; one that refuses it answers
        4xx: all False. None when the ledger has no row to prove it with."""
        url = f"{self.config.api}/PSALedger/AP"
        sample = [
            LedgerRow.model_validate(row)
            for row in _rows(await self._call("GET", url, params=_capped(5)))
        ]
        known = list(
            dict.fromkeys(
                ((row.Vendor or "").strip(), _invoice_of(row, column))
                for row in sample
                if row.Vendor and _invoice_of(row, column)
            )
        )
        known = [pair for pair in known if not any("," in value for value in pair)][:2]
        if not known:
            return None
        size = max(list_size, len(known) + 1)
        slots = [size // 2, size - 1][: len(known)]
        vendors = [f"{_PROBE_VALUE} {n}" for n in range(size)]
        invoices = list(vendors)
        for slot, (vendor, invoice) in zip(slots, known, strict=True):
            vendors[slot], invoices[slot] = vendor, invoice
        where = FilterHash().where_in("Vendor", vendors).where_in(column, invoices)
        try:
            answer = await self._call("GET", url, params=[*where.to_params(), *_capped(50)])
        except FatalError:
            return False
        rows = [LedgerRow.model_validate(row) for row in _rows(answer)]
        seen = {((row.Vendor or "").strip(), _invoice_of(row, column)) for row in rows}
        asked_vendors = {vendor for vendor, _ in known}
        asked_invoices = {invoice for _, invoice in known}
        inside = all(v in asked_vendors and i in asked_invoices for v, i in seen)
        return inside and all(pair in seen for pair in known)

    async def ledger_has_column(self, column: str) -> bool:
        """Whether PSALedger/AP can be filtered on ``column``: one capped read for a value no
        invoice has, answered with no rows (it filters), rows (the filter was ignored) or
        "field does not exist"."""
        params = [*FilterHash().where(column, _PROBE_VALUE).to_params(), *_capped(1)]
        try:
            answer = await self._call("GET", f"{self.config.api}/PSALedger/AP", params=params)
        except FieldMissingError as exc:
            if exc.field.lower() == column.lower():
                return False
            raise
        # A row for a value no invoice has: the tenant ignored the filter, so the column
        # cannot be used to find an invoice.
        return not _rows(answer)
