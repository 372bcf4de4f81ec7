"""Pushes Call Outs (invoice approved, supplier changed) to a receiver, HMAC-signed or via OAuth.

OAuth follows coupa-api.md §7 (CALLOUT-OAUTH): Coupa POSTs ``grant_type=client_credentials`` to
the receiver's token URL with HTTP Basic client credentials and ``Cache-Control: no-cache``, then
sends ``Authorization: Bearer``. Deliveries are kept for ``GET /_admin/callouts``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass

import aiohttp
import orjson

from shared.coupa.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from shared.http.backoff import Backoff, RetryPolicy, call_with_retries
from shared.http.errors import FatalError, RetriableError, error_for_status
from simulators.coupa.options import CalloutOptions
from simulators.coupa.records import Record

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    """One Call Out and how it went."""

    kind: str
    record_id: int
    url: str
    status: int | None = None
    attempts: int = 0
    error: str | None = None


class CalloutPusher:
    """Sends each event in its own task; ``close`` waits for those still in flight."""

    def __init__(self, options: CalloutOptions) -> None:
        self.options = options
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._token: tuple[str, float] | None = None
        self._token_lock = asyncio.Lock()
        self._policy = RetryPolicy(attempts=options.attempts, backoff=Backoff(initial=0.2))

    def notify(self, resource: str, record: Record) -> None:
        """Store listener: queue a push of ``record`` if a receiver is configured."""
        if self.options.url is None:
            return
        delivery = Delivery(resource, record["id"], f"{self.options.url.rstrip('/')}/{resource}")
        self.deliveries.append(delivery)
        task = asyncio.get_running_loop().create_task(self._deliver(delivery, orjson.dumps(record)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every queued push has finished (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.options.timeout_seconds)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def _deliver(self, delivery: Delivery, body: bytes) -> None:
        async def attempt() -> None:
            delivery.attempts += 1
            delivery.status = await self._post(delivery.url, body)

        try:
            await call_with_retries(attempt, self._policy)
        except (RetriableError, FatalError) as exc:
            delivery.error = str(exc)
            log.warning("call out failed", extra={"delivery": asdict(delivery)})

    async def _post(self, url: str, body: bytes) -> int:
        headers = {"Content-Type": "application/json"}
        if self.options.auth == "hmac" and self.options.secret:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(self.options.secret, timestamp, body)
        elif self.options.auth == "oauth":
            headers["Authorization"] = f"Bearer {await self._bearer()}"
        try:
            async with self._client().post(url, data=body, headers=headers) as response:
                if response.status == 401 and self.options.auth == "oauth":
                    self._token = None
                if response.status >= 300:
                    raise error_for_status(response.status, await response.text())
                return response.status
        except aiohttp.ClientError as exc:
            raise RetriableError(f"call out to {url} failed: {exc!r}") from exc

    async def _bearer(self) -> str:
        """A token from the receiver's token URL, reused until 30 s before it expires."""
        async with self._token_lock:
            if self._token is None or self._token[1] <= time.monotonic():
                self._token = await self._fetch_token()
            return self._token[0]

    async def _fetch_token(self) -> tuple[str, float]:
        opts = self.options
        if not (opts.token_url and opts.client_id and opts.client_secret):
            raise FatalError("oauth call outs need token_url, client_id and client_secret")
        form = {"grant_type": "client_credentials"} | ({"scope": opts.scope} if opts.scope else {})
        headers = {
            "Authorization": aiohttp.encode_basic_auth(opts.client_id, opts.client_secret),
            "Cache-Control": "no-cache",
        }
        try:
            async with self._client().post(opts.token_url, data=form, headers=headers) as response:
                if response.status != 200:
                    raise error_for_status(response.status, "call out token request refused")
                answer = await response.json(content_type=None)
        except aiohttp.ClientError as exc:
            raise RetriableError(f"token request failed: {exc!r}") from exc
        expires_in = float(answer.get("expires_in", 3600))
        return str(answer["access_token"]), time.monotonic() + max(0.0, expires_in - 30)
