"""Deltek failures sorted into the shared retriable/fatal kinds, plus three the caller acts on.

``OutcomeUnknownError`` (a write whose answer was lost; look it up, never resend blind),
``NeedsAttentionError`` (credentials or API authorization a human has to fix) and
``FieldMissingError`` (the tenant has no such field: its schema differs from what we sent or
asked for, whatever the status; a filter it refuses must never be read as "nothing found").
"""

from __future__ import annotations

import json
import re

from shared.http import FatalError, HttpError, RetriableError, error_for_status

# A gateway timeout or bad gateway on a write says nothing about whether the tenant committed it.
AMBIGUOUS_WRITE_STATUSES = frozenset({502, 504})
_MESSAGE_KEYS = ("message", "error_description", "detail", "error")
# How a tenant says a field is not there: Deltek's own "Field FirmID does not exist." and
# "Column:CashBasisAccount does not exist" (deltek-api.md §4, §6), and SQL Server's text, in
# case a bad filter column reaches the database and comes back as a 500 (❓).
_MISSING_FIELD = (
    re.compile(r"\bField\s+'?([\w.]+)'?\s+does not exist", re.IGNORECASE),
    re.compile(r"\bColumn\s*:?\s*'?([\w.]+)'?\s+does not exist", re.IGNORECASE),
    re.compile(r"\bInvalid column name\s+'([\w.]+)'", re.IGNORECASE),
)


class OutcomeUnknownError(HttpError):
    """A write was sent but no answer came back; it may have committed. Look it up first."""

    def __init__(self, method: str, path: str, cause: str, *, status: int | None = None) -> None:
        super().__init__(f"{method} {path}: outcome unknown ({cause})", status=status)
        self.method = method
        self.path = path


class NeedsAttentionError(FatalError):
    """The tenant refuses our credentials; retrying cannot help until someone fixes them."""


class TokenRefusedError(FatalError):
    """The token endpoint refused a grant (4xx); ``oauth_error`` is its RFC 6749 code, if any.

    The code (``invalid_client``, ``invalid_grant``, ``unauthorized_client``) tells a bad client
    secret from a bad password or a disabled password grant, which the text alone does not.
    """

    def __init__(self, detail: str, *, status: int, oauth_error: str | None) -> None:
        super().__init__(detail, status=status)
        self.oauth_error = oauth_error


class FieldMissingError(FatalError):
    """The tenant answered that ``field`` does not exist: configuration, never retried."""

    def __init__(self, detail: str, *, status: int, field: str) -> None:
        super().__init__(detail, status=status)
        self.field = field


def missing_field(message: str) -> str | None:
    """The field a "does not exist" message names, or None for any other message."""
    for pattern in _MISSING_FIELD:
        if found := pattern.search(message):
            return found.group(1)
    return None


class PostingError(FatalError):
    """``PostTransFile`` answered but did not post the batch (``retList`` other than "1")."""


def deltek_message(body: bytes | str) -> str:
    """Deltek's own error text, kept verbatim: ``{"Message": ...}`` or the OAuth error shape.

    Key case varies between sources (deltek-api.md §6), so keys match case-insensitively.
    """
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    try:
        parsed = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    if isinstance(parsed, str):
        return parsed
    if isinstance(parsed, dict):
        lowered = {str(k).lower(): v for k, v in parsed.items()}
        for key in _MESSAGE_KEYS:
            if isinstance(lowered.get(key), str) and lowered[key]:
                return str(lowered[key])
    return text.strip()[:500]


def oauth_error_code(body: bytes) -> str | None:
    """The ``error`` member of an OAuth error body (§1.3), or None when the body has none."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    code = parsed.get("error") if isinstance(parsed, dict) else None
    return code if isinstance(code, str) and code else None


def error_for_response(
    status: int, body: bytes, *, retry_after: float | None = None
) -> RetriableError | FatalError:
    """429 and 5xx are retriable (honouring ``Retry-After``); other 4xx are fatal. A missing
    field is fatal whatever the status: asking again cannot make the column appear."""
    message = deltek_message(body)
    field = missing_field(message)
    if field is not None:
        return FieldMissingError(message, status=status, field=field)
    return error_for_status(status, message, retry_after=retry_after)


class LedgerBatchUnsureError(Exception):
    """A batched (``in``) ledger read whose answer cannot be trusted whole: more rows than one
    page, or rows outside its filter (``ignored``). Read the invoices one by one instead."""

    def __init__(self, message: str, *, ignored: bool) -> None:
        super().__init__(message)
        self.ignored = ignored
