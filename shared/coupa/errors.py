"""Coupa-specific fatal errors, so callers can tell bad credentials from missing records."""

from __future__ import annotations

from shared.http.errors import FatalError


class CoupaAuthError(FatalError):
    """Coupa refused our credentials, or refused a fresh token too: fix the connection."""


class CoupaPermissionError(FatalError):
    """The token lacks a scope this call needs (403): add it to the OAuth client in Coupa."""


class CoupaNotFoundError(FatalError):
    """The record does not exist (404)."""
