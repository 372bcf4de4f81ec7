"""Query-string builders for Vantagepoint reads: ``filterHash`` conditions and page walking.

Both are pure so they can be unit-tested without a server (deltek-api.md §5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import orjson

from shared.http import OffsetPaginator

FilterType = Literal["string", "int", "datetime"]
Condition = Literal["AND", "OR"]
# Symbolic operators, URL-encoded by the HTTP layer (deltek-api.md §5: "prefer the symbols").
# ``in`` (a comma-separated list) is documented by one source only: use it only on a tenant
# that was seen to honour it (``DeltekClient.ledger_in_works``).
Operator = Literal["=", "<>", ">", ">=", "<", "<=", "like", "in"]


@dataclass(frozen=True)
class FilterTerm:
    """One ``filterHash[i]`` entry."""

    name: str
    value: str
    opp: Operator = "="
    type: FilterType = "string"
    condition: Condition = "AND"
    tablename: str | None = None


def _infer(value: str | int | Decimal | date) -> tuple[str, FilterType]:
    """Render a Python value the way Vantagepoint filters expect and pick its ``type``."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000"), "datetime"
    if isinstance(value, date):
        return value.strftime("%Y-%m-%dT00:00:00.000"), "datetime"
    if isinstance(value, bool):
        raise TypeError("Vantagepoint has no boolean filter type; pass 'Y' or 'N'")
    if isinstance(value, int):
        return str(value), "int"
    return str(value), "string"


@dataclass(frozen=True)
class FilterHash:
    """An immutable list of conditions; ``where`` returns a new builder so bases can be shared.

    PSALedger ignores plain query parameters (deltek-api.md §3.C), so every server-side filter
    the connector relies on must go through this builder.
    """

    terms: tuple[FilterTerm, ...] = ()

    def where(
        self,
        name: str,
        value: str | int | Decimal | date,
        opp: Operator = "=",
        *,
        condition: Condition = "AND",
        type: FilterType | None = None,
        tablename: str | None = None,
    ) -> FilterHash:
        text, inferred = _infer(value)
        term = FilterTerm(name, text, opp, type or inferred, condition, tablename)
        return replace(self, terms=(*self.terms, term))

    def where_in(self, name: str, values: Sequence[str]) -> FilterHash:
        """``name`` is one of ``values``; a value holding a comma cannot be told apart from two
        values, so it is refused (ask for it with ``where`` instead)."""
        if not values or any("," in value for value in values):
            raise ValueError(f"an 'in' filter on {name} needs values without commas")
        return self.where(name, ",".join(values), "in")

    def to_params(self) -> list[tuple[str, str]]:
        """Flatten to ``filterHash[i][key]=value`` pairs; ``seq`` is 1-based like the samples."""
        params: list[tuple[str, str]] = []
        for i, term in enumerate(self.terms):
            prefix = f"filterHash[{i}]"
            params += [
                (f"{prefix}[name]", term.name),
                (f"{prefix}[value]", term.value),
                (f"{prefix}[opp]", term.opp),
                (f"{prefix}[type]", term.type),
                (f"{prefix}[condition]", term.condition),
                (f"{prefix}[seq]", str(i + 1)),
            ]
            if term.tablename:
                params.append((f"{prefix}[tablename]", term.tablename))
        return params


class Pages:
    """Walks a bare-array listing page by page until a short page (deltek-api.md §5).

    No total count or next link exists, so a short page is the only end marker. Positions are
    sent as ``page`` (1-based) or ``offset`` (0-based); the shared ``OffsetPaginator`` tracks
    them and stops with ``PagingLoopError`` if the server ignores paging and repeats a page.
    Sizes go as ``pageSize`` rather than ``limit`` because PSALedger may answer 500 to ``limit``.
    """

    def __init__(self, page_size: int = 100, *, use_offset: bool = False) -> None:
        self._pages = OffsetPaginator(page_size)
        self.use_offset = use_offset

    @property
    def has_more(self) -> bool:
        return self._pages.has_more

    def params(self) -> list[tuple[str, str]]:
        size, offset = self._pages.limit, self._pages.offset
        position = ("offset", str(offset)) if self.use_offset else ("page", str(offset // size + 1))
        return [("pageSize", str(size)), position]

    def advance(self, rows: Sequence[Mapping[str, object]]) -> None:
        """Record a page just read; rows have no common key, so their content identifies them."""
        self._pages.advance(
            [orjson.dumps(row, default=str, option=orjson.OPT_SORT_KEYS) for row in rows]
        )
