"""Coupa OAuth 2.0 client-credentials tokens: cached until shortly before expiry, single flight."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import orjson

from shared.coupa.calls import CALLS
from shared.coupa.config import CoupaClientConfig
from shared.coupa.errors import CoupaAuthError
from shared.http.answers import read_answer
from shared.http.backoff import Backoff, RetryPolicy, call_with_retries, parse_retry_after
from shared.http.errors import RetriableError, error_for_status
from shared.http.ratelimit import TokenBucket
from shared.logs import register_secret

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and the monotonic time after which we stop using it."""

    value: str
    refresh_at: float


class TokenProvider:
    """Hands out a valid token; at most one request to ``/oauth2/token`` is in flight at a time.

    Concurrent callers that find the token stale all wait on one lock, and the first one in
    mints; the rest find a fresh token when they get the lock. ``invalidate`` only drops the
    token it is given, so N requests failing with 401 together cause one re-mint, not N.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: CoupaClientConfig,
        bucket: TokenBucket,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session = session
        self._config = config
        self._bucket = bucket
        self._clock = clock
        self._sleep = sleep
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()
        self.minted = 0
        register_secret(config.client_secret.get_secret_value())

    async def token(self) -> str:
        """A token valid for a while yet, minting one if needed."""
        current = self._token
        if current is not None and self._clock() < current.refresh_at:
            return current.value
        async with self._lock:
            current = self._token
            if current is None or self._clock() >= current.refresh_at:
                current = await self._mint()
                self._token = current
            return current.value

    def invalidate(self, value: str) -> None:
        """Forget ``value`` after Coupa rejected it, unless someone already replaced it."""
        if self._token is not None and self._token.value == value:
            self._token = None

    async def _mint(self) -> AccessToken:
        config = self._config
        policy = RetryPolicy(
            attempts=config.attempts,
            backoff=Backoff(config.backoff_initial_seconds, config.backoff_max_seconds),
        )
        answer = await call_with_retries(self._request_token, policy, sleep=self._sleep)
        value = answer.get("access_token")
        if not isinstance(value, str) or not value:
            raise CoupaAuthError("token endpoint answered without an access_token")
        register_secret(value)
        raw_expiry = answer.get("expires_in")
        # Without a stated lifetime assume an hour; a 401 will still trigger a re-mint.
        expires_in = float(raw_expiry) if isinstance(raw_expiry, int | float | str) else 3600.0
        margin = min(config.token_refresh_margin_seconds, expires_in * 0.1)
        self.minted += 1
        log.info("coupa token minted", extra={"expires_in": expires_in})
        if config.token_first_use_delay_seconds:
            await self._sleep(config.token_first_use_delay_seconds)
        return AccessToken(value, self._clock() + expires_in - margin)

    async def _request_token(self) -> dict[str, object]:
        config = self._config
        form = {
            "client_id": config.client_id,
            "client_secret": config.client_secret.get_secret_value(),
            "grant_type": "client_credentials",
            "scope": " ".join(config.scopes),
        }
        await self._bucket.acquire()
        url = f"{config.base_url.rstrip('/')}/oauth2/token"
        try:
            # No redirect is followed (shared.http.answers): a 307/308 would resend the form,
            # client secret included, to wherever it points.
            async with (
                CALLS.measure("POST", url) as call,
                self._session.post(
                    url, data=form, headers={"Accept": "application/json"}, allow_redirects=False
                ) as response,
            ):
                call.status = response.status
                body = await read_answer(response, config.max_token_response_bytes)
                status, retry_after = response.status, response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RetriableError(f"token request to {url} failed: {exc!r}") from exc
        if status == 200:
            answer = orjson.loads(body)
            if isinstance(answer, dict):
                return answer
            raise CoupaAuthError("token endpoint answered with something other than an object")
        if status in (400, 401, 403):
            raise _refusal(body, status)
        raise error_for_status(
            status, "token request failed", retry_after=parse_retry_after(retry_after)
        )


def _refusal(body: bytes, status: int) -> CoupaAuthError:
    """The RFC 6749 ``error`` code and description, never echoing our own request."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return CoupaAuthError("Coupa refused the client credentials", status=status)
    code, text = str(data.get("error", "refused")), str(data.get("error_description", ""))
    return CoupaAuthError(
        f"Coupa refused the client credentials: {code} {text}".strip(),
        status=status,
        oauth_error=code,
        description=text,
    )
