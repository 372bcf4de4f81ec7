"""Bearer tokens ingest issues to Coupa's Call Outs (OAuth 2.0 client credentials).

Coupa authenticates a Call Out by fetching a token from the receiver's token URL with the client
id and secret configured on the Coupa side (coupa-api.md §7). Here the client id is the
connection name and the secret is one of its Call Out secrets. The token is stateless, an HMAC
over the connection and the expiry keyed by that secret, so every ingest replica can check it
without shared storage, and rotating a secret out revokes the tokens it issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Literal

# Why a token is refused, for metrics only: the caller gets the same 401 either way.
TokenVerdict = Literal["ok", "expired", "forged"]

TOKEN_LIFETIME_SECONDS = 3600
_PREFIX = "cdi1"


def _mac(secret: str, body: str) -> str:
    key = hashlib.sha256(b"connector-ingest-token:" + secret.encode()).digest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def issue(connection: str, secret: str, *, now: float) -> str:
    encoded = base64.urlsafe_b64encode(connection.encode()).decode().rstrip("=")
    body = f"{_PREFIX}.{encoded}.{int(now) + TOKEN_LIFETIME_SECONDS}"
    return f"{body}.{_mac(secret, body)}"


def verify(token: str, connection: str, secrets: Iterable[str], *, now: float) -> bool:
    """True if ``token`` was issued for ``connection`` under an active secret and is unexpired."""
    return check(token, connection, secrets, now=now) == "ok"


def check(token: str, connection: str, secrets: Iterable[str], *, now: float) -> TokenVerdict:
    """``ok``, ``expired`` (genuine for ``connection`` but past its expiry) or ``forged``."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != _PREFIX:
        return "forged"
    prefix, encoded, expiry, mac = parts
    try:
        named = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        expires = int(expiry)
    except (ValueError, UnicodeDecodeError):
        return "forged"
    body = f"{prefix}.{encoded}.{expiry}"
    if named != connection or not any(
        hmac.compare_digest(_mac(secret, body), mac) for secret in secrets
    ):
        return "forged"
    return "ok" if expires >= now else "expired"


def constant_time_equal(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
