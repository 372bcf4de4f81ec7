"""Bearer tokens ingest issues to Coupa's Call Outs (OAuth 2.0 client credentials).

Coupa authenticates a Call Out by fetching a token from the receiver's token URL with the client
id and secret configured on the Coupa side (coupa-api.md §7). Here the client id is the
connection name and the secret is one of its Call Out secrets. The token is stateless, an HMAC
over the connection, the scopes and the expiry keyed by that secret, so every ingest replica can
check it without shared storage, and rotating a secret out revokes the tokens it issued.

A bearer token covers no body, so whoever holds one can push anything it allows until it
expires: each token names its connection, and the scopes (the Call Out endpoints) it was asked
for, and is refused anywhere else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import Literal

# Why a token is refused, for metrics only: the caller gets the same 401 either way.
# ``out_of_scope``: genuine and current, but for another endpoint of its connection.
TokenVerdict = Literal["ok", "expired", "forged", "out_of_scope"]

TOKEN_LIFETIME_SECONDS = 3600
_PREFIX = "cdi2"
# The exact shape ``issue`` writes (ASCII only, bounded), checked before anything is decoded
# or compared; a connection name is at most 63 characters, 84 in base64.
_TOKEN = re.compile(
    _PREFIX + r"\.([A-Za-z0-9_-]{1,128})\.([a-z]{1,16}(?:\+[a-z]{1,16}){0,7})\.([0-9]{1,12})"
    r"\.([0-9a-f]{64})"
)


def _mac(secret: str, body: str) -> bytes:
    key = hashlib.sha256(b"connector-ingest-token:" + secret.encode()).digest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest().encode()


def issue(connection: str, secret: str, scopes: Iterable[str], *, now: float) -> str:
    """A token for ``connection``'s endpoints named in ``scopes`` (lower-case words)."""
    encoded = base64.urlsafe_b64encode(connection.encode()).decode().rstrip("=")
    body = f"{_PREFIX}.{encoded}.{'+'.join(sorted(scopes))}.{int(now) + TOKEN_LIFETIME_SECONDS}"
    return f"{body}.{_mac(secret, body).decode()}"


def check(
    token: str, connection: str, scope: str, secrets: Iterable[str], *, now: float
) -> TokenVerdict:
    """``ok`` if ``token`` was issued for ``connection`` and ``scope`` under an active secret and
    is unexpired; else ``forged``, ``expired`` or ``out_of_scope`` (genuine but not for it)."""
    shape = _TOKEN.fullmatch(token)
    if shape is None:
        return "forged"
    encoded, scopes, expiry, mac = shape.groups()
    try:
        named = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "forged"
    body = token[: -len(mac) - 1]
    if named != connection or not any(
        hmac.compare_digest(_mac(secret, body), mac.encode()) for secret in secrets
    ):
        return "forged"
    if int(expiry) < now:
        return "expired"
    return "ok" if scope in scopes.split("+") else "out_of_scope"


def constant_time_equal(expected: str, given: str) -> bool:
    """Compare secrets as bytes: ``compare_digest`` raises on text that is not ASCII, and any
    text, even one holding lone surrogates from undecodable bytes, encodes with surrogatepass."""
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )
