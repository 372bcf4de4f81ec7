"""Coupa-specific fatal errors, so callers can tell bad credentials from missing records."""

from __future__ import annotations

from shared.http.errors import FatalError


class CoupaAuthError(FatalError):
    """Coupa refused our credentials, or refused a fresh token too: fix the connection.

    When the token endpoint said why, ``oauth_error`` holds its RFC 6749 code (``invalid_client``,
    ``invalid_scope``, ...) and ``description`` its text, so a diagnosis can name the cause.
    """

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        oauth_error: str | None = None,
        description: str = "",
    ) -> None:
        super().__init__(detail, status=status)
        self.oauth_error = oauth_error
        self.description = description


class CoupaPermissionError(FatalError):
    """The token lacks a scope this call needs (403): add it to the OAuth client in Coupa."""


class CoupaNotFoundError(FatalError):
    """The record does not exist (404)."""
