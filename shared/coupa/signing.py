"""HMAC-SHA256 signatures for Coupa Call Outs: made by the simulator, checked by the receiver.

Scheme (architecture.md §5): ``X-Coupa-Timestamp`` = unix seconds, ``X-Coupa-Signature`` =
``sha256=<hex of HMAC-SHA256(secret, timestamp + "." + raw body)>``. Coupa documents no signing
(coupa-api.md §7), so this is our receiver's contract, not Coupa's; senders that already use it
must keep working, so the signed string stays exactly this. It covers neither the URL nor the
connection: the receiver binds those itself (the body's kind must match the endpoint).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# Why a signature is refused, for the receiver's metrics; the sender gets the same 401 for each.
Verdict = Literal["ok", "unsigned", "expired", "forged"]

TIMESTAMP_HEADER = "X-Coupa-Timestamp"
SIGNATURE_HEADER = "X-Coupa-Signature"
DEFAULT_TOLERANCE_SECONDS = 300

# The exact shapes ``sign`` writes. Header values arrive as any text (aiohttp decodes bytes that
# are not UTF-8 to lone surrogates), and ``int()`` would take "+1_7" or Arabic-Indic digits:
# checking the shape first means nothing but ASCII ever reaches the comparison.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Coupa-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class Signed:
    """Signature headers of a well-formed shape: worth reading the body for to check them."""

    timestamp: str
    signature: bytes

    def check(
        self,
        secrets: Iterable[str],
        body: bytes,
        *,
        now: float,
        tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    ) -> Verdict:
        """``ok`` if any active secret signed ``body`` within ``tolerance`` seconds of ``now``.

        Several secrets may be active while one is rotated out; the timestamp window stops
        replays of a captured request, and compare_digest stops timing attacks on the
        signature. A stale request is ``expired`` only when its signature is genuine (a
        captured request re-sent after the window); a stale forgery stays ``forged``, so the
        label tells an operator which one happened without telling the sender anything.
        """
        genuine = any(
            hmac.compare_digest(sign(s, self.timestamp, body).encode(), self.signature)
            for s in secrets
        )
        if not genuine:
            return "forged"
        return "ok" if abs(now - int(self.timestamp)) <= tolerance else "expired"


def read_headers(
    timestamp: str | None, signature: str | None
) -> Signed | Literal["unsigned", "forged"]:
    """The signature headers, or why they are refused whatever the body: absent or malformed."""
    if not timestamp or not signature:
        return "unsigned"
    if not (_TIMESTAMP.fullmatch(timestamp) and _SIGNATURE.fullmatch(signature)):
        return "forged"
    return Signed(timestamp, signature.encode("ascii"))


def check(
    secrets: Iterable[str],
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> Verdict:
    """:meth:`Signed.check` of the headers as received; ``unsigned`` or ``forged`` if malformed."""
    signed = read_headers(timestamp, signature)
    if isinstance(signed, str):
        return signed
    return signed.check(secrets, body, now=now, tolerance=tolerance)


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
