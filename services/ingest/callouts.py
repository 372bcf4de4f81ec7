"""The Call Out endpoints Coupa pushes to, and the token endpoint it authenticates with.

A push is authenticated before its body is parsed: an HMAC-SHA256 signature over the raw bytes
(``X-Coupa-Timestamp`` / ``X-Coupa-Signature``, any active secret of the connection, constant-time
compare) or a bearer token this service issued. Anything else is answered 401 and kept nowhere.
An authenticated object version is accepted into the inbox (one insert) and the answer goes out
at once; publishing happens after, from the inbox.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestPayloadError
from asyncpg import DataError
from prometheus_client import Counter

from services.ingest import tokens
from services.ingest.directory import CoupaConnections
from services.ingest.inbox import Kind, NotACoupaObjectError, accept
from shared.coupa.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from shared.coupa.signing import check as check_signature
from shared.db.pool import Pool
from shared.outages import OUTAGES

log = logging.getLogger(__name__)


class CalloutRoutes:
    """Request handlers bound to the pool, the connections and the inbox drain's wake-up.

    Pool and connections are reached through getters: routes exist before the app has started
    and opened them.
    """

    def __init__(
        self,
        pool: Callable[[], Pool],
        directory: Callable[[], CoupaConnections],
        wake: Callable[[], None],
        counter: Counter,
    ) -> None:
        self._pool = pool
        self._directory = directory
        self._wake = wake
        self._counter = counter

    def add_to(self, app: web.Application) -> None:
        app.router.add_post("/coupa/{connection}/invoices", self._receiver("invoice"))
        app.router.add_post("/coupa/{connection}/suppliers", self._receiver("supplier"))
        app.router.add_post("/oauth2/token", self.token)

    def _receiver(self, kind: Kind) -> Handler:
        async def receive(request: web.Request) -> web.Response:
            return await self.receive(request, kind)

        return receive

    async def receive(self, request: web.Request, kind: Kind) -> web.Response:
        connection = request.match_info["connection"]
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self._counter.labels(kind, "too_large").inc()
            raise
        except RequestPayloadError:
            # A body its Content-Encoding does not describe (e.g. "gzip" that is not gzip).
            self._counter.labels(kind, "bad_request").inc()
            return _error(400, "the body cannot be read with its Content-Encoding")
        try:
            secrets = await self._directory().callout_secrets(connection)
            refused = _refusal(request, connection, secrets, raw)
            if refused is not None:
                self._counter.labels(kind, refused).inc()
                return _error(401, "not authenticated for this connection")
            body = orjson.loads(raw)
            async with self._pool().acquire() as conn:
                new = await accept(conn, connection, kind, body, "webhook")
        except (orjson.JSONDecodeError, NotACoupaObjectError, DataError) as exc:
            self._counter.labels(kind, "bad_request").inc()
            log.warning("call out refused", extra={"connection": connection, "error": str(exc)})
            return _error(400, f"not a Coupa {kind}: {_why(exc)}")
        except OUTAGES as exc:
            # Coupa retries a Call Out that was not acknowledged; 503 says "later", not "broken".
            self._counter.labels(kind, "unavailable").inc()
            log.warning("call out deferred", extra={"connection": connection, "error": repr(exc)})
            return _error(503, "cannot store Call Outs right now; send it again later")
        if not new:
            self._counter.labels(kind, "duplicate").inc()
            return web.json_response({"status": "already received"}, status=200)
        self._counter.labels(kind, "accepted").inc()
        self._wake()
        return web.json_response({"status": "accepted"}, status=202)

    async def token(self, request: web.Request) -> web.Response:
        """OAuth 2.0 client credentials: client id = connection name, secret = a Call Out secret."""
        form = await request.post()
        client_id, client_secret = _basic_credentials(request)
        client_id = client_id or str(form.get("client_id") or "")
        client_secret = client_secret or str(form.get("client_secret") or "")
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        secrets = await self._directory().callout_secrets(client_id) if client_id else None
        matching = [s for s in secrets or () if tokens.constant_time_equal(s, client_secret)]
        if not matching:
            self._counter.labels("token", "unauthorized").inc()
            return web.json_response({"error": "invalid_client"}, status=401)
        token = tokens.issue(client_id, matching[0], now=time.time())
        self._counter.labels("token", "issued").inc()
        return web.json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": tokens.TOKEN_LIFETIME_SECONDS,
            }
        )


def _refusal(
    request: web.Request, connection: str, secrets: list[str] | None, raw: bytes
) -> str | None:
    """None when the push is authentic, else why not, as a metrics label.

    Labels are a fixed set (never the connection name from the URL, which the sender chooses).
    """
    if not secrets:
        return "unknown_connection"
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        bearer = tokens.check(authorization[7:].strip(), connection, secrets, now=time.time())
        return None if bearer == "ok" else bearer
    verdict = check_signature(
        secrets,
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(SIGNATURE_HEADER),
        raw,
        now=time.time(),
    )
    return None if verdict == "ok" else verdict


def _why(exc: Exception) -> str:
    """Postgres refuses some text JSON allows (a NUL character); say so without its wording."""
    return "it holds text that cannot be stored" if isinstance(exc, DataError) else str(exc)


def _basic_credentials(request: web.Request) -> tuple[str, str]:
    authorization = request.headers.get("Authorization", "")
    if not authorization.lower().startswith("basic "):
        return "", ""
    # Coupa sends base64url (coupa-api.md §7); standard Basic uses the other alphabet. Take both.
    encoded = authorization[6:].strip().replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
