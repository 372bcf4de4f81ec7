"""One HTTP exchange with Vantagepoint, turning network failures into the right error kind.

A failure before the request left (connection refused, DNS) is always safe to retry. Any later
failure of a write (reset, timeout, closed socket) may hide a committed change, so it becomes
``OutcomeUnknownError`` instead of a retriable error: the caller must look the write up.

No redirect is followed and no answer is read past a bound (``shared.http.answers``); both are
fatal, except an oversize answer to a write Deltek accepted: that write is done but what it made
is unread, so it too becomes ``OutcomeUnknownError`` and is looked up.

Every call is measured by endpoint template and outcome, and every write logged once with the
job it was for (``shared.api_calls``, ``shared.call_context``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aiohttp
from yarl import URL

from shared.api_calls import ApiCalls, Routes
from shared.deltek.errors import OutcomeUnknownError
from shared.http import ResponseTooLargeError, RetriableError, TokenBucket, parse_retry_after
from shared.http.adaptive import AdaptiveLimit
from shared.http.answers import read_answer

# Every path the client calls (``shared/deltek/client.py``, ``auth.py``), under ``/api`` or
# ``/vision``; literal ones before the placeholder ones they would also match.
ROUTES = Routes(
    [
        "/token",
        "/firm",
        "/firm/VendorAccountingInfo",
        "/firm/{client}",
        "/firm/{client}/address",
        "/firm/{client}/vendorAccountingInfo",
        "/Accounts",
        "/project",
        "/project/{wbs1}",
        "/Settings/Period",
        "/BankCode/CFGBANKS",
        "/DataEntry/apControl",
        "/DataEntry/apControl/{batch}",
        "/DataEntry/apMaster/{batch}",
        "/DataEntry/apDetail/{batch}",
        "/DataEntry/PostTransFile",
        "/PSALedger/AP",
    ],
    auth_path="/token",
)
CALLS = ApiCalls("deltek", ROUTES, log_writes=True)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    retry_after: float | None


class Transport:
    """Sends requests on a shared session, at most ``concurrency.limit`` at once (a bound that
    adapts to the tenant's answers), optionally paced by a client-side token bucket."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout_seconds: float,
        max_response_bytes: int,
        concurrency: AdaptiveLimit,
        limiter: TokenBucket | None = None,
    ) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._max_bytes = max_response_bytes
        self.concurrency = concurrency
        self._limiter = limiter

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        json_body: bytes | None = None,
        form: Mapping[str, str] | None = None,
        token: str | None = None,
        idempotent: bool | None = None,
        max_bytes: int | None = None,
    ) -> Answer:
        """``idempotent`` defaults to "method is GET"; the token endpoint passes True, and a
        ``max_bytes`` below the API's because a token answer is small."""
        if self._limiter is not None:
            await self._limiter.acquire()
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        safe = method == "GET" if idempotent is None else idempotent
        try:
            async with (
                self.concurrency.call() as call,
                CALLS.measure(method, url) as measured,
                self._session.request(
                    method,
                    url,
                    params=list(params),
                    data=json_body if form is None else dict(form),
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                ) as response,
            ):
                measured.status = response.status
                body = await read_answer(response, max_bytes or self._max_bytes)
                call.status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except ResponseTooLargeError as exc:
            if safe or exc.status not in range(200, 300):
                raise
            # Deltek accepted the write; only what it made is unread, so it is looked up.
            raise OutcomeUnknownError(method, _path(url), exc.detail, status=exc.status) from exc
        except aiohttp.ClientConnectorError as exc:
            raise RetriableError(f"cannot connect: {exc}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            cause = f"{type(exc).__name__}: {exc}"
            if not safe:
                raise OutcomeUnknownError(method, _path(url), cause) from exc
            raise RetriableError(cause) from exc
        return Answer(response.status, body, retry_after)


def _path(url: str) -> str:
    return URL(url).path
