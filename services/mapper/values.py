"""Reading Coupa's JSON values: text trimmed to None, money as exact Decimal, ISO datetimes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation


def clean(value: object) -> str | None:
    """A value as trimmed text; None for null or blank."""
    if value is None:
        return None
    return str(value).strip() or None


def money(value: object) -> Decimal | None:
    """Coupa amounts are strings (coupa-api §3.6); ``Decimal(str(...))`` never goes via float.

    A JSON number (an older API version) is read through its text too. Raises ``ValueError`` on
    something that is not a number, so the caller can say which field was unreadable.
    """
    text = clean(value)
    if text is None:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not an amount") from exc
    if not amount.is_finite():
        raise ValueError(f"{text!r} is not an amount")
    return amount


def timestamp(value: object) -> datetime | None:
    """An ISO 8601 datetime (Coupa writes offsets, e.g. ``-08:00``); None when absent or bad."""
    text = clean(value)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
