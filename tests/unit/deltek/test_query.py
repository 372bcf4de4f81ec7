"""filterHash building and page walking, without a server."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from shared.deltek import FilterHash, Pages
from shared.http import PagingLoopError


def test_filter_hash_flattens_terms_with_one_based_seq() -> None:
    where = FilterHash().where("Vendor", "000056").where("Period", 202606, ">=")
    assert where.to_params() == [
        ("filterHash[0][name]", "Vendor"),
        ("filterHash[0][value]", "000056"),
        ("filterHash[0][opp]", "="),
        ("filterHash[0][type]", "string"),
        ("filterHash[0][condition]", "AND"),
        ("filterHash[0][seq]", "1"),
        ("filterHash[1][name]", "Period"),
        ("filterHash[1][value]", "202606"),
        ("filterHash[1][opp]", ">="),
        ("filterHash[1][type]", "int"),
        ("filterHash[1][condition]", "AND"),
        ("filterHash[1][seq]", "2"),
    ]


@pytest.mark.parametrize(
    ("value", "text", "kind"),
    [
        (date(2026, 6, 3), "2026-06-03T00:00:00.000", "datetime"),
        (datetime(2026, 6, 3, 14, 5, 9), "2026-06-03T14:05:09.000", "datetime"),
        (Decimal("10.50"), "10.50", "string"),
        (7, "7", "int"),
    ],
)
def test_filter_values_are_rendered_and_typed(value: object, text: str, kind: str) -> None:
    [term] = FilterHash().where("X", value).terms  # type: ignore[arg-type]
    assert (term.value, term.type) == (text, kind)


def test_filter_hash_is_immutable_and_accepts_overrides() -> None:
    base = FilterHash().where("Vendor", "A")
    wider = base.where(
        "Desc1", "%rover%", "like", condition="OR", tablename="LedgerAP", type="string"
    )
    assert len(base.terms) == 1
    assert len(wider.terms) == 2
    assert ("filterHash[1][tablename]", "LedgerAP") in wider.to_params()
    assert ("filterHash[1][condition]", "OR") in wider.to_params()


def test_booleans_are_refused() -> None:
    with pytest.raises(TypeError):
        FilterHash().where("Active", True)


def test_pages_by_page_number_until_a_short_page() -> None:
    pages = Pages(2)
    seen = []
    for rows in ([{"id": 1}, {"id": 2}], [{"id": 3}, {"id": 4}], [{"id": 5}]):
        assert pages.has_more
        seen.append(pages.params())
        pages.advance(rows)
    assert not pages.has_more
    assert seen == [[("pageSize", "2"), ("page", str(n))] for n in (1, 2, 3)]


def test_pages_by_offset_and_empty_last_page() -> None:
    pages = Pages(2, use_offset=True)
    pages.advance([{"id": 1}, {"id": 2}])
    assert pages.params() == [("pageSize", "2"), ("offset", "2")]
    pages.advance([])
    assert not pages.has_more


def test_a_server_ignoring_paging_is_caught() -> None:
    pages = Pages(2)
    pages.advance([{"id": 1, "amount": Decimal("1.00")}, {"id": 2, "amount": None}])
    with pytest.raises(PagingLoopError):
        pages.advance([{"id": 1, "amount": Decimal("1.00")}, {"id": 2, "amount": None}])


def test_page_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit"):
        Pages(0)


def test_simulator_refuses_the_inferred_ascending_order_by_default() -> None:
    """``order=Column_D`` is documented, ``_A`` only inferred (deltek-api.md §5): strict default."""
    from multidict import MultiDict

    from simulators.deltek.query import page
    from simulators.deltek.store import SimError

    rows = [{"Batch": "B"}, {"Batch": "A"}, {"Batch": "C"}]
    assert page(rows, MultiDict(order="Batch_D"), None) == sorted(
        rows, key=lambda r: r["Batch"], reverse=True
    )
    for order in ("Batch_A", "Batch"):
        with pytest.raises(SimError):
            page(rows, MultiDict(order=order), None)
        assert page(rows, MultiDict(order=order), None, "ignored") == rows
    assert page(rows, MultiDict(order="Batch_A"), None, "honoured") == sorted(
        rows, key=lambda r: r["Batch"]
    )
