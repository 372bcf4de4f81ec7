"""OAuth 2.0 client credentials for the simulator: issuing JWT-shaped tokens and checking scopes.

Without a configured client id any id and secret are accepted (a new user gets going at once);
with one, both must match and requested scopes must be within ``client_scopes``. Token error
bodies follow RFC 6749 §5.2, which coupa-api.md §1 marks as inferred.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from aiohttp import BasicAuth, web

from simulators.coupa.options import ALL_SCOPES, CoupaSimOptions

# Which scope each API route needs (coupa-api.md §1 scope table).
READ_SCOPES = {
    "invoices": "core.invoice.read",
    "purchase_orders": "core.purchase_order.read",
    "suppliers": "core.supplier.read",
}
WRITE_SCOPES = {
    "invoices": "core.invoice.write",
    "purchase_orders": "core.purchase_order.write",
    "suppliers": "core.supplier.write",
}


@dataclass
class Grant:
    """What an issued token allows, and until when (wall-clock seconds)."""

    client_id: str
    scopes: frozenset[str]
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """Issues and checks bearer tokens; tokens live in memory only."""

    def __init__(self, options: CoupaSimOptions, clock: Callable[[], float] = time.time) -> None:
        self._options = options
        self._clock = clock
        self._grants: dict[str, Grant] = {}
        self._key = secrets.token_bytes(32)
        self.issued = 0

    def _jwt(self, client_id: str, scopes: frozenset[str], expires_at: float) -> str:
        """Real Coupa tokens are JWTs that grow with the scope list (§1); ours look alike."""
        header = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
        claims = {"sub": client_id, "scope": " ".join(sorted(scopes)), "exp": int(expires_at)}
        claims["jti"] = secrets.token_hex(8)
        payload = _b64(orjson.dumps(claims))
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), "sha256").digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def issue(
        self, client_id: str, client_secret: str, scope: str | None, ttl: int | None
    ) -> tuple[int, dict[str, object]]:
        """Answer a token request: (status, JSON body)."""
        options = self._options
        if options.strict and not (
            hmac.compare_digest(client_id, options.client_id or "")
            and hmac.compare_digest(client_secret, options.client_secret or "")
        ):
            return 401, {
                "error": "invalid_client",
                "error_description": "Client authentication failed",
            }
        allowed = options.client_scopes if options.strict else ALL_SCOPES
        requested = frozenset(scope.split()) if scope else allowed
        if not requested <= allowed:
            unknown = " ".join(sorted(requested - allowed))
            return 400, {"error": "invalid_scope", "error_description": f"Not allowed: {unknown}"}
        expires_in = options.token_expires_in if ttl is None else ttl
        expires_at = self._clock() + expires_in
        token = self._jwt(client_id, requested, expires_at)
        self._grants[token] = Grant(client_id, requested, expires_at)
        self.issued += 1
        body: dict[str, object] = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": expires_in,
            "scope": " ".join(sorted(requested)),
        }
        return 200, body

    def check(self, authorization: str | None, scope: str) -> tuple[int, str] | None:
        """None if the bearer may use ``scope``; else (401|403, message)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return 401, "Missing bearer token"
        grant = self._grants.get(authorization[7:].strip())
        if grant is None or grant.expires_at <= self._clock():
            return 401, "Invalid or expired access token"
        if scope not in grant.scopes:
            return 403, f"Token lacks scope {scope}"
        return None

    def expire_all(self) -> int:
        """Make every issued token invalid now (the admin "token expiry" fault)."""
        count = len(self._grants)
        self._grants.clear()
        return count


async def read_client_credentials(request: web.Request) -> tuple[dict[str, str], str, str]:
    """Form fields plus client id/secret from the body or, failing that, HTTP Basic."""
    form = {k: str(v) for k, v in (await request.post()).items()}
    client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
    header = request.headers.get("Authorization", "")
    if not client_id and header.lower().startswith("basic "):
        try:
            basic = BasicAuth.decode(header)
        except ValueError:
            return form, "", ""
        client_id, client_secret = basic.login, basic.password
    return form, client_id, client_secret
