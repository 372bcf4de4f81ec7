"""HMAC-SHA256 signatures for Coupa Call Outs: made by the simulator, checked by the receiver.

Scheme (architecture.md §5): ``X-Coupa-Timestamp`` = unix seconds, ``X-Coupa-Signature`` =
``sha256=<hex of HMAC-SHA256(secret, timestamp + "." + raw body)>``. Coupa documents no signing
(coupa-api.md §7), so this is our receiver's contract, not Coupa's.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Literal

# Why a signature is refused, for the receiver's metrics; the sender gets the same 401 for each.
Verdict = Literal["ok", "unsigned", "expired", "forged"]

TIMESTAMP_HEADER = "X-Coupa-Timestamp"
SIGNATURE_HEADER = "X-Coupa-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Coupa-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secrets: Iterable[str],
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True if any active secret signed ``body`` within ``tolerance`` seconds of ``now``."""
    return check(secrets, timestamp, signature, body, now=now, tolerance=tolerance) == "ok"


def check(
    secrets: Iterable[str],
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> Verdict:
    """``ok`` if any active secret signed ``body`` within ``tolerance`` seconds of ``now``.

    Several secrets may be active while one is rotated out; the timestamp window stops replays
    of a captured request, and compare_digest stops timing attacks on the signature. A stale
    request is ``expired`` only when its signature is genuine (a captured request re-sent after
    the window); a stale forgery stays ``forged``, so the label tells an operator which one
    happened without telling the sender anything.
    """
    if not timestamp or not signature:
        return "unsigned"
    try:
        sent = int(timestamp)
    except ValueError:
        return "forged"
    if not any(hmac.compare_digest(sign(s, timestamp, body), signature) for s in secrets):
        return "forged"
    return "ok" if abs(now - sent) <= tolerance else "expired"
