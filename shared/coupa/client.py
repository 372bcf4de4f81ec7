"""The Coupa REST client: rate limited, retrying, re-authenticating, paging by id since an instant.

Only documented Coupa behaviour is relied on (coupa-api.md): ``Accept: application/json``
because Coupa defaults to XML, bare JSON arrays with ``[]`` at the end, pages of at most 50,
``PUT ?exported=true`` on its own. Nothing here depends on the simulator's admin API.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import Any

import aiohttp
import orjson

from shared.coupa.auth import TokenProvider
from shared.coupa.calls import CALLS
from shared.coupa.config import CoupaClientConfig
from shared.coupa.errors import CoupaAuthError, CoupaNotFoundError, CoupaPermissionError
from shared.coupa.exports import EXPORT_FIELDS, ExportState
from shared.coupa.models import CoupaInvoice, CoupaPurchaseOrder, CoupaSupplier
from shared.coupa.paging import IDENTITY_FIELDS, ChangedSincePager, Listed
from shared.http.answers import read_answer
from shared.http.backoff import Backoff, RetryPolicy, call_with_retries, parse_retry_after
from shared.http.errors import FatalError, RetriableError, error_for_status
from shared.http.ratelimit import TokenBucket
from shared.http.session import SessionOwner

log = logging.getLogger(__name__)
API_VERSION_HEADER = "X-COUPA-API-VERSION"
Params = Mapping[str, str]


class CoupaClient(SessionOwner):
    """One Coupa instance. Use ``async with CoupaClient(config) as coupa:``.

    Every call takes a rate-limit token, carries a cached bearer, retries retriable failures with
    jittered backoff and, on a 401, mints a new token once before giving up with CoupaAuthError.
    A redirect or an answer over ``max_response_bytes`` is refused (``shared.http.answers``).
    """

    def __init__(
        self,
        config: CoupaClientConfig,
        session: aiohttp.ClientSession | None = None,
        *,
        bucket: TokenBucket | None = None,
    ) -> None:
        super().__init__(session, aiohttp.ClientTimeout(total=config.timeout_seconds))
        self.config = config
        self._bucket = bucket or TokenBucket(config.rate, config.burst)
        self.tokens = TokenProvider(self._session, config, self._bucket)
        self._policy = RetryPolicy(
            attempts=config.attempts,
            backoff=Backoff(config.backoff_initial_seconds, config.backoff_max_seconds),
        )
        self._base = config.base_url.rstrip("/")

    # -- one request -------------------------------------------------------------------------

    def _headers(self, token: str, method: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if method != "GET":
            headers["Content-Type"] = "application/json"
        if self.config.api_version is not None:
            headers[API_VERSION_HEADER] = self.config.api_version
        return headers

    async def _attempt(
        self, method: str, path: str, params: Params, *, fresh_token: bool = False
    ) -> Any:
        """One logical attempt: a request, plus one re-mint-and-resend if the token was refused."""
        await self._bucket.acquire()
        token = await self.tokens.token()
        url = f"{self._base}{path}"
        try:
            async with (
                CALLS.measure(method, url) as call,
                self._session.request(
                    method,
                    url,
                    params=params,
                    headers=self._headers(token, method),
                    allow_redirects=False,
                ) as response,
            ):
                status = call.status = response.status
                body = await read_answer(response, self.config.max_response_bytes)
                retry_after = response.headers.get("Retry-After")
                content_type = response.content_type
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RetriableError(f"{method} {path} failed: {exc!r}") from exc
        if status == 401:
            self.tokens.invalidate(token)
            if fresh_token:
                raise CoupaAuthError(f"{method} {path}: Coupa rejected a fresh token", status=401)
            log.info("coupa answered 401; minting a new token", extra={"path": path})
            return await self._attempt(method, path, params, fresh_token=True)
        return _decode(method, path, status, body, content_type, retry_after)

    async def _call(self, method: str, path: str, params: Params | None = None) -> Any:
        async def attempt() -> Any:
            return await self._attempt(method, path, params or {})

        return await call_with_retries(attempt, self._policy)

    # -- resources ---------------------------------------------------------------------------

    async def _page(self, resource: str, params: Params) -> list[dict[str, Any]]:
        """One index page: Coupa answers a bare JSON array (§3.6), anything else is refused."""
        page = await self._call("GET", f"/api/{resource}", params)
        if not isinstance(page, list):
            raise FatalError(f"/api/{resource} answered with a {type(page).__name__}")
        return page

    async def _iter_updated(
        self, resource: str, since: datetime | None, filters: Params
    ) -> AsyncIterator[dict[str, Any]]:
        pager = ChangedSincePager(since, self.config.page_size)
        while pager.has_more:
            for record in pager.advance(await self._page(resource, {**filters, **pager.params()})):
                yield dict(record)

    async def list_changed(
        self,
        resource: str,
        since: datetime | None,
        *,
        until: datetime | None = None,
        filters: Params | None = None,
    ) -> AsyncIterator[list[Listed]]:
        """Pages of the id and version of every record changed in ``[since, until)``.

        Only identities travel (``fields``, §3.2 "Payload trimming"), a few bytes a record, so a
        poll can list a window it has mostly seen before and fetch in full (``fetch_in``) only
        the versions it does not hold yet.
        """
        pager = ChangedSincePager(since, self.config.page_size, until)
        while pager.has_more:
            params = {**(filters or {}), "fields": IDENTITY_FIELDS, **pager.params()}
            page = pager.advance(await self._page(resource, params))
            yield [Listed.of(record) for record in page]

    async def fetch_in(
        self,
        resource: str,
        attribute: str,
        values: Iterable[str],
        filters: Params | None = None,
    ) -> list[dict[str, Any]]:
        """Every record whose ``attribute`` is one of ``values``, a page of values a call with
        ``attribute[in]`` (§3.2 "Operators"); values Coupa does not know are simply absent.

        Meant for attributes unique to one record (``id``, ``po-number``, §4), so a call for at
        most a page of values is answered in one page. Coupa documents no escape for a comma
        inside an ``[in]`` list, so a value holding one is asked for alone, with equality.
        """
        wanted = list(dict.fromkeys(values))
        listable = [value for value in wanted if "," not in value]
        size = self.config.page_size
        asks = [
            {f"{attribute}[in]": ",".join(listable[start : start + size])}
            for start in range(0, len(listable), size)
        ] + [{attribute: value} for value in wanted if "," in value]
        found: list[dict[str, Any]] = []
        for ask in asks:
            found += await self._page(resource, {**(filters or {}), **ask, "limit": str(size)})
        return found

    async def iter_invoices(
        self,
        since: datetime | None = None,
        status: str | Iterable[str] | None = "approved",
        *,
        exported: bool | None = None,
    ) -> AsyncIterator[CoupaInvoice]:
        """Invoices changed at or after ``since`` (``updated-at[gt_or_eq]``), in ascending id.

        ``status`` may be one status or several (``status[in]``); ``exported`` adds the
        ``exported=`` filter Coupa recommends for ERP pulls (coupa-api.md §3.2).
        """
        filters: dict[str, str] = {}
        if isinstance(status, str):
            filters["status"] = status
        elif status is not None:
            filters["status[in]"] = ",".join(status)
        if exported is not None:
            filters["exported"] = "true" if exported else "false"
        async for record in self._iter_updated("invoices", since, filters):
            yield CoupaInvoice.from_api(record)

    async def iter_suppliers(self, since: datetime | None = None) -> AsyncIterator[CoupaSupplier]:
        """Suppliers changed at or after ``since`` (coupa-api.md §5 incremental sync)."""
        async for record in self._iter_updated("suppliers", since, {}):
            yield CoupaSupplier.from_api(record)

    async def get_invoice(self, invoice_id: int) -> CoupaInvoice:
        return CoupaInvoice.from_api(await self._call("GET", f"/api/invoices/{invoice_id}"))

    async def get_supplier(self, supplier_id: int) -> CoupaSupplier:
        return CoupaSupplier.from_api(await self._call("GET", f"/api/suppliers/{supplier_id}"))

    async def get_purchase_order(self, po_id: int) -> CoupaPurchaseOrder:
        return CoupaPurchaseOrder.from_api(await self._call("GET", f"/api/purchase_orders/{po_id}"))

    async def purchase_orders_by_number(self, numbers: Iterable[str]) -> list[dict[str, Any]]:
        """Coupa's JSON of the POs with these numbers, in bulk (``po-number[in]``, §3.2, §4)."""
        return await self.fetch_in("purchase_orders", "po-number", numbers)

    async def get_purchase_order_by_number(self, po_number: str) -> CoupaPurchaseOrder | None:
        """The PO whose ``po-number`` is ``po_number`` (unique in Coupa), or None (§4)."""
        found = await self._call("GET", "/api/purchase_orders", {"po-number": po_number})
        if not isinstance(found, list) or not found:
            return None
        return CoupaPurchaseOrder.from_api(found[0])

    async def export_state(self, invoice_id: int) -> ExportState:
        """Whether the invoice is flagged exported, and its version, in one small read."""
        answer = await self._call("GET", f"/api/invoices/{invoice_id}", {"fields": EXPORT_FIELDS})
        return ExportState.of(invoice_id, answer)

    async def set_exported(self, invoice_id: int) -> ExportState:
        """Flag the invoice exported: ``PUT ?exported=true`` alone, as Coupa asks (§3.3); the
        answer names the version the flag made (Coupa may move ``updated-at`` with it).

        Safe to repeat: setting the flag twice leaves the same state, so a retry after a lost
        answer does no harm.
        """
        params = {"exported": "true", "fields": EXPORT_FIELDS}
        state = ExportState.of(
            invoice_id, await self._call("PUT", f"/api/invoices/{invoice_id}", params)
        )
        if not state.exported:
            raise FatalError(f"invoice {invoice_id} still not exported after PUT")
        return state


def _decode(
    method: str, path: str, status: int, body: bytes, content_type: str, retry_after: str | None
) -> Any:
    """JSON for a 2xx; otherwise the right error kind with Coupa's error messages."""
    if 200 <= status < 300:
        if not body.strip():
            return None
        if "json" not in content_type:
            raise FatalError(f"{method} {path}: expected JSON, got {content_type}")
        return orjson.loads(body)
    detail = f"{method} {path}: {_messages(body)}"
    if status == 403:
        raise CoupaPermissionError(detail, status=status)
    if status == 404:
        raise CoupaNotFoundError(detail, status=status)
    raise error_for_status(status, detail, retry_after=parse_retry_after(retry_after))


def _messages(body: bytes) -> str:
    """Coupa's ``{"errors": {"<resource>": [msg, ...]}}`` flattened; raw text otherwise."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode(errors="replace")
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, dict):
        return "; ".join(
            f"{key}: {msg}"
            for key, msgs in errors.items()
            for msg in (msgs if isinstance(msgs, list) else [msgs])
        )
    return str(data)[:200]
