"""Coupa index query semantics: ``attr[op]=value`` filters, ordering, offset/limit, field trimming.

Attribute names match with hyphens and underscores alike (``updated_at`` = ``updated-at``) and may
walk associations (``supplier[name]``, ``invoice-lines[account][code]``), per coupa-api.md §3.2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from simulators.coupa.records import Record

RESERVED = frozenset({"limit", "offset", "order_by", "dir", "return_object", "fields", "filter"})
OPERATORS = frozenset(
    {"contains", "starts_with", "ends_with", "gt", "lt", "gt_or_eq", "lt_or_eq", "not_eq", "in"}
    | {"not_in", "blank"}
)
_KEY = re.compile(r"^([A-Za-z0-9_-]+)((?:\[[A-Za-z0-9_-]+\])*)$")
_NATURAL_KEYS = ("id", "name", "number", "code", "login", "po-number", "invoice-number")


class QueryError(ValueError):
    """The query cannot be understood; answered with 400 and the errors envelope."""


def hyphenate(name: str) -> str:
    """Coupa's attribute names with underscores turned into the hyphens its JSON uses."""
    return name.replace("_", "-")


@dataclass(frozen=True)
class Filter:
    """One ``path[op]=value`` condition."""

    path: tuple[str, ...]
    op: str
    value: str


def parse_filters(params: Iterable[tuple[str, str]]) -> list[Filter]:
    """Turn query pairs (minus paging/format parameters) into filters."""
    filters = []
    for key, value in params:
        if key in RESERVED:
            continue
        match = _KEY.match(key)
        if not match:
            raise QueryError(f"cannot parse query parameter {key!r}")
        parts = [match.group(1), *re.findall(r"\[([^\]]+)\]", match.group(2))]
        op = "eq"
        if len(parts) > 1 and parts[-1].replace("-", "_") in OPERATORS:
            op = parts.pop().replace("-", "_")
        filters.append(Filter(tuple(hyphenate(p) for p in parts), op, value))
    return filters


def _leaves(value: Any, path: tuple[str, ...]) -> list[Any]:
    """Values at ``path``; lists (has-many associations) contribute every element."""
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item, path)]
    if not path:
        return [value]
    if not isinstance(value, Mapping):
        return []
    return _leaves(value.get(path[0]), path[1:])


def parse_datetime(text: str) -> datetime:
    """ISO 8601; a bare date means midnight UTC (coupa-api.md §3.2, QRY)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise QueryError(f"invalid date {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _looks_like_datetime(value: str) -> bool:
    return len(value) >= 19 and value[4] == "-" and value[10] == "T"


def _coerce(actual: Any, raw: str) -> tuple[Any, Any]:
    """Bring the record value and the query text to one comparable type."""
    if isinstance(actual, bool):
        return actual, raw.strip().lower() == "true"
    if isinstance(actual, int | float) or (isinstance(actual, str) and _is_decimal(actual)):
        try:
            return Decimal(str(actual)), Decimal(raw)
        except InvalidOperation as exc:
            raise QueryError(f"invalid number {raw!r}") from exc
    if isinstance(actual, str) and _looks_like_datetime(actual):
        return parse_datetime(actual), parse_datetime(raw)
    return str(actual), raw


def _is_decimal(text: str) -> bool:
    return re.fullmatch(r"-?\d+\.\d+", text) is not None


def _test(actual: Any, op: str, raw: str) -> bool:
    if op == "blank":
        return (actual in (None, "")) == (raw.strip().lower() == "true")
    if op in ("in", "not_in"):
        found = actual is not None and any(_test(actual, "eq", o) for o in raw.split(","))
        return found if op == "in" else not found
    if actual is None:
        return op == "not_eq"
    if op in ("contains", "starts_with", "ends_with"):
        text, needle = str(actual).lower(), raw.lower()
        return {
            "contains": needle in text,
            "starts_with": text.startswith(needle),
            "ends_with": text.endswith(needle),
        }[op]
    left, right = _coerce(actual, raw)
    return bool(
        {
            "eq": left == right,
            "not_eq": left != right,
            "gt": left > right,
            "lt": left < right,
            "gt_or_eq": left >= right,
            "lt_or_eq": left <= right,
        }[op]
    )


def matches(record: Record, filters: Iterable[Filter]) -> bool:
    """True when every filter holds (any element of a has-many association may satisfy it)."""
    for flt in filters:
        leaves = _leaves(record, flt.path)
        if flt.op in ("not_eq", "not_in"):
            if not all(_test(leaf, flt.op, flt.value) for leaf in leaves or [None]):
                return False
        elif not any(_test(leaf, flt.op, flt.value) for leaf in leaves or [None]):
            return False
    return True


def unknown_attributes(filters: Iterable[Filter], sample: Record) -> list[str]:
    """Top-level filter attributes that the resource does not have."""
    return [flt.path[0] for flt in filters if flt.path[0] not in sample]


def sort_records(records: list[Record], order_by: str | None, direction: str) -> list[Record]:
    """Order by one attribute (default ``id``); ties always fall back to ascending ``id``."""
    ordered = sorted(records, key=lambda r: r["id"])
    if order_by is None:
        return list(reversed(ordered)) if direction == "desc" else ordered
    key = hyphenate(order_by)

    def sort_key(record: Record) -> tuple[bool, Any]:
        value = record.get(key)
        if isinstance(value, str) and _looks_like_datetime(value):
            return False, parse_datetime(value)
        return value is None, value if value is not None else 0

    return sorted(ordered, key=sort_key, reverse=direction == "desc")


def project_fields(value: Any, spec: list[Any]) -> Any:
    """Keep only the fields named in a ``fields=[...]`` spec (coupa-api.md §3.2, RET)."""
    if isinstance(value, list):
        return [project_fields(item, spec) for item in value]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for item in spec:
        if isinstance(item, str) and hyphenate(item) in value:
            out[hyphenate(item)] = value[hyphenate(item)]
        elif isinstance(item, Mapping):
            for name, sub in item.items():
                if hyphenate(name) in value and isinstance(sub, list):
                    out[hyphenate(name)] = project_fields(value[hyphenate(name)], sub)
    return out


def parse_fields(raw: str) -> list[Any]:
    """``fields`` is a JSON array in the query string."""
    try:
        spec = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise QueryError("fields must be a JSON array") from exc
    if not isinstance(spec, list):
        raise QueryError("fields must be a JSON array")
    return spec


def _natural(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: value[k] for k in _NATURAL_KEYS if k in value}
    if isinstance(value, list):
        return [_natural(item) for item in value]
    return value


def trim(record: Record, return_object: str | None) -> Record:
    """``limited`` keeps the id; ``shallow`` keeps associations' ids and natural keys (RET)."""
    if return_object == "limited":
        return {"id": record["id"]}
    if return_object == "shallow":
        return {k: _natural(v) for k, v in record.items()}
    return record
