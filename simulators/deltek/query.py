"""Server-side reading of Vantagepoint query parameters: filterHash, paging, fieldFilter, order.

Operators: the symbols (``=``, ``<>``, ``>``, ``>=``, ``<``, ``<=``) and scjalliance's words
(``eq ne gt ge lt le like in``) are both accepted because the sources conflict (deltek-api.md §5).
Plain query parameters never filter: PSALedger is documented to ignore them (§3.C) and no other
listing is documented to honour them. String comparison is case-insensitive, as on a default
SQL Server collation (inferred).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from multidict import MultiMapping

from simulators.deltek.options import AscendingOrder, InOperator
from simulators.deltek.store import Record, SimError, no_such_field

_FILTER_KEY = re.compile(r"^filterHash\[(\d+)\]\[(\w+)\]$")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}
# How many values a tenant with ``in_operator="capped"`` honours.
IN_CAP = 10
_WORDS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


@dataclass(frozen=True)
class _Term:
    name: str
    value: str
    opp: str
    type: str
    condition: str
    seq: int


def parse_filter(query: MultiMapping[str], in_operator: InOperator = "list") -> list[_Term]:
    """The ``filterHash`` terms; ``in_operator`` is how this tenant takes ``in`` (options)."""
    groups: dict[int, dict[str, str]] = defaultdict(dict)
    for key, value in query.items():
        match = _FILTER_KEY.match(key)
        if match:
            groups[int(match.group(1))][match.group(2).lower()] = value
    terms = []
    for index, parts in sorted(groups.items()):
        if "name" not in parts:
            raise SimError(400, f"filterHash[{index}] has no name.")
        opp = parts.get("opp", "=").strip().lower()
        opp = _WORDS.get(opp, opp)
        value = parts.get("value", "")
        if opp == "in" and in_operator != "list":
            if in_operator == "refused":
                raise SimError(400, f"Invalid operator {parts.get('opp')}.")
            values = value.split(",")
            if in_operator == "capped":
                value = ",".join(values[:IN_CAP])
            else:
                opp = "="
                if in_operator != "literal":
                    value = values[0] if in_operator == "first_only" else values[-1]
        if opp not in _OPS and opp not in ("like", "in"):
            raise SimError(400, f"Invalid operator {parts.get('opp')}.")
        terms.append(
            _Term(
                name=parts["name"],
                value=value,
                opp=opp,
                type=parts.get("type", "string").lower(),
                condition=parts.get("condition", "AND").upper(),
                seq=int(parts.get("seq", index)),
            )
        )
    return sorted(terms, key=lambda t: t.seq)


def _coerce(value: Any, kind: str) -> Any:
    if value is None:
        return None
    text = str(value)
    if kind == "int":
        return int(float(text))
    if kind == "datetime":
        return datetime.fromisoformat(text[:19])
    return text.strip().casefold()


def _matches(row: Record, term: _Term) -> bool:
    if term.name not in row:
        raise no_such_field(term.name)
    try:
        actual = _coerce(row[term.name], term.type)
        if term.opp == "in":
            return actual in {_coerce(v, term.type) for v in term.value.split(",")}
        wanted = _coerce(term.value, term.type)
    except ValueError:
        raise SimError(400, f"Invalid value {term.value} for {term.name}.") from None
    if actual is None:
        return False
    if term.opp == "like":
        pattern = re.escape(str(wanted)).replace("%", ".*").replace("_", ".")
        return re.fullmatch(pattern, str(actual)) is not None
    return _OPS[term.opp](actual, wanted)


def apply_filter(
    rows: list[Record], terms: list[_Term], columns: frozenset[str] | None = None
) -> list[Record]:
    """Evaluate left to right in ``seq`` order, each term joined by its own condition.

    With ``columns`` (the table's own), a term naming another column is refused before any row
    is read, as SQL would: an empty table must not turn a wrong column into "no match".
    """
    for term in terms:
        if columns is not None and term.name not in columns:
            raise no_such_field(term.name)
    if not terms:
        return rows
    kept = []
    for row in rows:
        result = _matches(row, terms[0])
        for term in terms[1:]:
            hit = _matches(row, term)
            result = (result or hit) if term.condition == "OR" else (result and hit)
        if result:
            kept.append(row)
    return kept


def _int_param(query: MultiMapping[str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise SimError(400, f"Invalid value {raw} for parameter {name}.")
    return int(raw)


def page(
    rows: list[Record],
    query: MultiMapping[str],
    default_size: int | None,
    ascending: AscendingOrder = "refused",
) -> list[Record]:
    """``limit|pageSize`` for the size, ``page`` (1-based) or ``offset`` (0-based) for the start;
    ``order=Column_D`` sorts descending (documented), ascending as ``ascending`` says (§5)."""
    order = query.get("order")
    if order:
        column, _, direction = (
            order.rpartition("_") if order[-2:] in ("_A", "_D") else (order, "", "A")
        )
        if direction == "A" and ascending == "refused":
            raise SimError(400, f"Invalid order {order}.")
        if direction == "D" or ascending == "honoured":
            rows = sorted(rows, key=lambda r: str(r.get(column) or ""), reverse=direction == "D")
    maxrows = _int_param(query, "q.maxrows")
    if maxrows is not None:
        rows = rows[:maxrows]
    size = _int_param(query, "limit") or _int_param(query, "pageSize") or default_size
    if size is None:
        return rows
    offset = _int_param(query, "offset")
    start = offset if offset is not None else ((_int_param(query, "page") or 1) - 1) * size
    return rows[start : start + size]


def project_fields(rows: list[Record], query: MultiMapping[str]) -> list[Record]:
    """``fieldFilter=A,B`` trims every answered record to those keys (§5), on reads and writes."""
    wanted = [f.strip() for f in (query.get("fieldFilter") or "").split(",") if f.strip()]
    if not wanted:
        return rows
    return [{k: row[k] for k in wanted if k in row} for row in rows]
