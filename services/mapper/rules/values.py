"""Reading Coupa's JSON values: text trimmed to None, money as exact Decimal, ISO datetimes, and
objects and lists checked for their shape (Coupa tells integrators not to validate strictly, so
the resolver must read whatever arrives without raising anything but ``ValueError``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Beyond this an "amount" is no invoice amount (Deltek keeps 19 digits, 4 after the point).
_LARGEST_AMOUNT = Decimal(10) ** 15


def clean(value: object) -> str | None:
    """A value as trimmed text; None for null, blank, or an object or list (not a text at all)."""
    if value is None or isinstance(value, dict | list):
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
    if not amount.is_finite() or abs(amount) >= _LARGEST_AMOUNT:
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


def obj(value: object, what: str) -> dict[str, Any]:
    """A JSON object; an empty one for null; ``ValueError`` naming ``what`` for anything else."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not an object")
    return value


def objs(value: object, what: str) -> list[dict[str, Any]]:
    """A JSON list of objects; empty for null; ``ValueError`` naming ``what`` for anything else."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{what} is not a list")
    for n, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise ValueError(f"{what} item {n} is not an object")
    return value
