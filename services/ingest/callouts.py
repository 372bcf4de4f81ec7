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
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from prometheus_client import Counter

from services.ingest import tokens
from services.ingest.directory import CoupaConnections
from services.ingest.inbox import Kind, NotACoupaObjectError, accept
from shared.coupa.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from shared.coupa.signing import verify as verify_signature
from shared.db.pool import Pool

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
        secrets = await self._directory().callout_secrets(connection)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self._counter.labels(kind, "too_large").inc()
            raise
        if not secrets or not _authentic(request, connection, secrets, raw):
            self._counter.labels(kind, "unauthorized").inc()
            return _error(401, "not authenticated for this connection")
        try:
            body = orjson.loads(raw)
            async with self._pool().acquire() as conn:
                new = await accept(conn, connection, kind, body, "webhook")
        except (orjson.JSONDecodeError, NotACoupaObjectError) as exc:
            self._counter.labels(kind, "bad_request").inc()
            log.warning("call out refused", extra={"connection": connection, "error": str(exc)})
            return _error(400, f"not a Coupa {kind}: {exc}")
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


def _authentic(request: web.Request, connection: str, secrets: list[str], raw: bytes) -> bool:
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        return tokens.verify(authorization[7:].strip(), connection, secrets, now=time.time())
    return verify_signature(
        secrets,
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(SIGNATURE_HEADER),
        raw,
        now=time.time(),
    )


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
