"""Vantagepoint OAuth: password grant, refresh grant, single-flight renewal, "needs attention".

Every caller shares one token. Renewal runs under an ``asyncio.Lock`` and is skipped when
another caller already replaced the rejected token, so a burst of 401s costs one token call.
When the tenant refuses our credentials (or keeps answering 401 to a fresh token) the manager
latches a reason and fails every later call fast with ``NeedsAttentionError``: hammering a bad
password can lock the API user out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

from shared.deltek.config import DeltekConfig
from shared.deltek.errors import (
    NeedsAttentionError,
    TokenRefusedError,
    error_for_response,
    oauth_error_code,
)
from shared.deltek.transport import Transport
from shared.http import FatalError, RetryPolicy, call_with_retries
from shared.logs import register_secret

log = logging.getLogger(__name__)


class TokenManager:
    """Holds the current access and refresh tokens for one tenant connection."""

    def __init__(
        self,
        config: DeltekConfig,
        transport: Transport,
        retry: RetryPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._config = config
        self._transport = transport
        self._retry = retry
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._access: str | None = None
        self._refresh: str | None = None
        self._renew_at = 0.0
        self.attention: str | None = None
        self.grants = 0  # token calls that succeeded, for metrics and tests

    def _usable(self) -> bool:
        return self._access is not None and self._clock() < self._renew_at

    def _check_attention(self) -> None:
        if self.attention is not None:
            raise NeedsAttentionError(self.attention)

    async def token(self) -> str:
        """A token that is not about to expire, renewing it first if needed."""
        self._check_attention()
        if not self._usable():
            async with self._lock:
                self._check_attention()
                if not self._usable():
                    await self._renew()
        assert self._access is not None
        return self._access

    async def renew_after(self, rejected: str) -> str:
        """The API answered 401 to ``rejected``: get a new token unless someone already did."""
        async with self._lock:
            self._check_attention()
            if self._access == rejected or not self._usable():
                await self._renew()
        assert self._access is not None
        return self._access

    def mark_attention(self, reason: str) -> NeedsAttentionError:
        """Latch the connection as needing a human; returns the error for the caller to raise."""
        if self.attention is None:
            log.error("deltek connection needs attention", extra={"reason": reason})
        self.attention = reason
        self._access = self._refresh = None
        return NeedsAttentionError(reason)

    def clear_attention(self) -> None:
        """Allow calls again, e.g. after the credentials were fixed."""
        self.attention = None

    async def _renew(self) -> None:
        """Refresh grant when we hold a refresh token, else (or if it is refused) password grant."""
        if self._refresh is not None:
            try:
                await self._grant(self._refresh_form(self._refresh))
                return
            except FatalError as exc:
                log.info(
                    "refresh grant refused; trying the password grant", extra={"error": str(exc)}
                )
        try:
            await self._grant(self._password_form())
        except FatalError as exc:
            raise self.mark_attention(
                f"token endpoint refused the password grant: {exc.detail}"
            ) from exc

    def _password_form(self) -> dict[str, str]:
        """Field names as Deltek documents them (deltek-api.md §1.1)."""
        config = self._config
        return {
            "Username": config.username,
            "Password": config.password.get_secret_value(),
            "grant_type": "password",
            "Integrated": "Y" if config.integrated else "N",
            "database": config.database,
            "Client_Id": config.client_id,
            "client_secret": config.client_secret.get_secret_value(),
        }

    def _refresh_form(self, refresh: str) -> dict[str, str]:
        """Field names as scjalliance sends them (deltek-api.md §1.2)."""
        config = self._config
        return {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "database": config.database,
            "client_id": config.client_id,
            "client_secret": config.client_secret.get_secret_value(),
        }

    async def _grant(self, form: dict[str, str]) -> None:
        url = f"{self._config.api}/token"

        async def once() -> bytes:
            # Asking for another token is harmless, so even a lost answer may be retried.
            answer = await self._transport.send(
                "POST",
                url,
                form=form,
                idempotent=True,
                max_bytes=self._config.max_token_response_bytes,
            )
            if answer.status != 200:
                error = error_for_response(
                    answer.status, answer.body, retry_after=answer.retry_after
                )
                if isinstance(error, FatalError):
                    code = oauth_error_code(answer.body)
                    raise TokenRefusedError(error.detail, status=answer.status, oauth_error=code)
                raise error
            return answer.body

        body = json.loads(await call_with_retries(once, self._retry, sleep=self._sleep))
        access, refresh = str(body["access_token"]), body.get("refresh_token")
        register_secret(access)
        lifetime = float(body.get("expires_in") or 0)
        margin = min(self._config.refresh_margin_seconds, lifetime / 2)
        self._access, self._renew_at = access, self._clock() + lifetime - margin
        if refresh:
            # Rotation is undocumented (§1.2): keep whatever came back.
            self._refresh = str(refresh)
            register_secret(self._refresh)
        self.grants += 1
