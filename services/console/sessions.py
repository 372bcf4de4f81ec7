"""Signed session cookies, and the CSRF token each one carries.

The cookie holds the user's name (None before sign-in) and a random CSRF token, signed with
``itsdangerous`` under the session secret and stamped, so it cannot be forged or changed and dies
after ``session_max_age_seconds``. Every form carries the token; a POST whose token does not match
its cookie's is refused, so another site cannot make a signed-in browser act. A new token is drawn
at sign-in and sign-out, so a token seen before sign-in is worth nothing after it.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "console_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Session:
    user: str | None
    csrf: str

    @classmethod
    def fresh(cls, user: str | None = None) -> Session:
        return cls(user, secrets.token_urlsafe(32))

    def accepts(self, token: str | None) -> bool:
        """Whether ``token`` (from a form or header) is this session's (constant-time compare)."""
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


class SessionCodec:
    """Turns sessions into cookie values and back; a bad or expired value reads as none."""

    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="console-session")
        self.max_age_seconds = max_age_seconds

    def dump(self, session: Session) -> str:
        return self._serializer.dumps({"u": session.user, "c": session.csrf})

    def load(self, value: str | None) -> Session | None:
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age_seconds)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        user = data.get("u")
        return Session(user if isinstance(user, str) else None, data["c"])
