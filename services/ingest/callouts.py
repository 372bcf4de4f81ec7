"""The Call Out endpoints Coupa pushes to, and the token endpoint it authenticates with.

A push is authenticated before its body is parsed, and as far as possible before it is read:
first the connection the URL names (:class:`CalloutDirectory`: a name that is no connection
costs no query), then the credential, which is either a bearer token this service issued for
that connection and endpoint, or an HMAC-SHA256 signature over the raw bytes
(``X-Coupa-Timestamp`` / ``X-Coupa-Signature``, any active secret of the connection) whose
headers must be well formed before the body is read to check it. Every refusal (no such
connection, no credential, a malformed or a wrong one) is the same 401 with the same body; why
goes to metrics only, so an answer never tells a connection name from any other text.

The signature covers the body and nothing else, and its scheme is fixed for the senders that use
it: a genuine push re-sent within its window to the other endpoint would verify. So the body
must be of the endpoint's kind, told by what Coupa always sends: an invoice carries its
``invoice-number``, a supplier its ``name`` and no ``invoice-number``. Replays to the same
endpoint are harmless already: the inbox keeps each object version once.

An authenticated object version is accepted into the inbox (one insert) and the answer goes out
at once; publishing happens after, from the inbox.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestPayloadError
from asyncpg import DataError
from prometheus_client import Counter

from services.ingest import tokens
from services.ingest.directory import CalloutDirectory
from services.ingest.inbox import Kind, NotACoupaObjectError, accept
from shared.coupa.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, read_headers
from shared.db.pool import Pool
from shared.outages import OUTAGES

log = logging.getLogger(__name__)

# Each Call Out endpoint's path word, which is also the token scope that opens it.
_SCOPES: dict[Kind, str] = {"invoice": "invoices", "supplier": "suppliers"}
# The key only an invoice has, and the one a supplier has (coupa-api.md §9).
_INVOICE_MARK = "invoice-number"
_SUPPLIER_MARK = "name"
# A token request is a handful of short fields (RFC 6749 §4.4.2).
_MAX_TOKEN_FIELDS = 16


class _Refused(Exception):
    """A request answered ``status`` with ``message``, counted under ``outcome``."""

    def __init__(self, status: int, outcome: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome


def _unauthenticated(outcome: str) -> _Refused:
    return _Refused(401, outcome, "not authenticated for this connection")


class CalloutRoutes:
    """Request handlers bound to the pool, the connections and the inbox drain's wake-up.

    The pool is reached through a getter: routes exist before the app has started and opened it.
    """

    def __init__(
        self,
        pool: Callable[[], Pool],
        directory: CalloutDirectory,
        wake: Callable[[], None],
        counter: Counter,
        *,
        max_body_bytes: int,
    ) -> None:
        self._pool = pool
        self._directory = directory
        self._wake = wake
        self._counter = counter
        self._max_body_bytes = max_body_bytes

    def add_to(self, app: web.Application) -> None:
        for kind, scope in _SCOPES.items():
            app.router.add_post(f"/coupa/{{connection}}/{scope}", self._receiver(kind))
        app.router.add_post("/oauth2/token", self.token)

    def _receiver(self, kind: Kind) -> Handler:
        async def receive(request: web.Request) -> web.Response:
            return await self.receive(request, kind)

        return receive

    async def receive(self, request: web.Request, kind: Kind) -> web.Response:
        connection = request.match_info["connection"]
        try:
            raw = await self._authenticated_body(request, connection, kind)
            body = orjson.loads(raw)
            _check_kind(body, kind)
            async with self._pool().acquire() as conn:
                new = await accept(conn, connection, kind, body, "webhook")
        except _Refused as refused:
            self._counter.labels(kind, refused.outcome).inc()
            return _error(refused.status, str(refused))
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

    async def _authenticated_body(self, request: web.Request, connection: str, kind: Kind) -> bytes:
        """The raw body of a push authenticated for ``connection`` and ``kind``.

        Nothing is read of a push refused whatever its body: an unknown connection, a missing,
        malformed or wrong token, signature headers of the wrong shape.
        """
        self._check_declared_size(request)
        secrets = await self._directory.callout_secrets(connection)
        if secrets is None:
            raise _unauthenticated("unknown_connection")
        authorization = request.headers.get("Authorization", "")
        if authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
            verdict = tokens.check(token, connection, _SCOPES[kind], secrets, now=time.time())
            if verdict != "ok":
                raise _unauthenticated(verdict)
            return await self._read(request)
        signed = read_headers(
            request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER)
        )
        if isinstance(signed, str):
            raise _unauthenticated(signed)
        raw = await self._read(request)
        checked = signed.check(secrets, raw, now=time.time())
        if checked != "ok":
            raise _unauthenticated(checked)
        return raw

    def _check_declared_size(self, request: web.Request) -> None:
        """A body declared too large is refused first: it needs no look-up, reveals nothing."""
        if (request.content_length or 0) > self._max_body_bytes:
            raise self._too_large()

    async def _read(self, request: web.Request) -> bytes:
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge as exc:  # chunked, or inflated by its encoding
            raise self._too_large() from exc
        except RequestPayloadError as exc:
            # A body its Content-Encoding does not describe (e.g. "gzip" that is not gzip).
            message = "the body cannot be read with its Content-Encoding"
            raise _Refused(400, "bad_request", message) from exc

    def _too_large(self) -> _Refused:
        message = f"the body is larger than {self._max_body_bytes} bytes"
        return _Refused(413, "too_large", message)

    async def token(self, request: web.Request) -> web.Response:
        """OAuth 2.0 client credentials: client id = connection name, secret = a Call Out secret.

        ``scope`` may name the endpoints the token opens (``invoices``, ``suppliers``): Coupa
        sends what its Call Out is configured with, so one OAuth client per Call Out makes a
        token good for its own endpoint only. Other words are ignored and no endpoint named
        means both, so a Coupa set up without a scope keeps working.
        """
        try:
            params = await self._token_params(request)
        except _Refused as refused:
            self._counter.labels("token", refused.outcome).inc()
            return web.json_response({"error": "invalid_request"}, status=refused.status)
        if params.get("grant_type") != "client_credentials":
            self._counter.labels("token", "bad_request").inc()
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        client_id, client_secret = _client_credentials(request, params)
        try:
            secrets = await self._directory.callout_secrets(client_id)
        except OUTAGES as exc:
            self._counter.labels("token", "unavailable").inc()
            log.warning("token request deferred", extra={"error": repr(exc)})
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        matching = [s for s in secrets or () if tokens.constant_time_equal(s, client_secret)]
        if not matching:
            self._counter.labels("token", "unauthorized").inc()
            return web.json_response({"error": "invalid_client"}, status=401)
        asked = set(params.get("scope", "").split())
        scopes = sorted(asked & set(_SCOPES.values())) or sorted(_SCOPES.values())
        token = tokens.issue(client_id, matching[0], scopes, now=time.time())
        self._counter.labels("token", "issued").inc()
        # Coupa expects exactly these three (coupa-api.md §7); the scope granted is added only
        # when one was asked for, as RFC 6749 §5.1 wants when it differs.
        grant: dict[str, object] = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": tokens.TOKEN_LIFETIME_SECONDS,
        }
        if asked:
            grant["scope"] = " ".join(scopes)
        return web.json_response(grant)

    async def _token_params(self, request: web.Request) -> dict[str, str]:
        """The request's parameters, form-encoded or JSON (Coupa sends either, coupa-api.md §7);
        anything else, or a parameter given twice (RFC 6749 §3.2), is an invalid request."""
        self._check_declared_size(request)
        raw = await self._read(request)
        malformed = _Refused(400, "bad_request", "invalid_request")
        try:
            if request.content_type == "application/json":
                given = orjson.loads(raw)
                if not isinstance(given, dict):
                    raise malformed
                pairs = list(given.items())
            else:
                pairs = parse_qsl(
                    raw.decode(), keep_blank_values=True, max_num_fields=_MAX_TOKEN_FIELDS
                )
        except ValueError as exc:  # not JSON, not UTF-8, or too many fields
            raise malformed from exc
        params = {key: value for key, value in pairs if isinstance(value, str)}
        # A repeated key, a JSON value that is no text, or too many fields.
        if len(params) != len(pairs) or len(pairs) > _MAX_TOKEN_FIELDS:
            raise malformed
        return params


def _check_kind(body: object, kind: Kind) -> None:
    """Refuse an object of the other kind than the endpoint's (see the module docstring)."""
    if not isinstance(body, dict):
        return  # accept() says what is wrong with it
    invoice = _INVOICE_MARK in body
    if kind == "invoice" and not invoice:
        raise NotACoupaObjectError(f"the object has no '{_INVOICE_MARK}'")
    if kind == "supplier" and invoice:
        raise NotACoupaObjectError("the object is a Coupa invoice")
    if kind == "supplier" and _SUPPLIER_MARK not in body:
        raise NotACoupaObjectError(f"the object has no '{_SUPPLIER_MARK}'")


def _why(exc: Exception) -> str:
    """Postgres refuses some text JSON allows (a NUL character); say so without its wording."""
    return "it holds text that cannot be stored" if isinstance(exc, DataError) else str(exc)


def _client_credentials(request: web.Request, params: dict[str, str]) -> tuple[str, str]:
    """Client id and secret from HTTP Basic (what Coupa sends) or else the body.

    A Basic header that does not decode is a wrong credential, not an absent one, so the body
    is not consulted then: ("", "") matches no connection.
    """
    authorization = request.headers.get("Authorization", "")
    if authorization[:6].lower() != "basic ":
        return params.get("client_id", ""), params.get("client_secret", "")
    # Coupa sends base64url (coupa-api.md §7); standard Basic uses the other alphabet. Take both.
    encoded = authorization[6:].strip().replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except ValueError:  # not ASCII, not base64 (binascii.Error), or not UTF-8 once decoded
        return "", ""
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
