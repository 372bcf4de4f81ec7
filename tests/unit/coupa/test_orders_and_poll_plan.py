"""Pure logic behind fewer Coupa calls: which POs an invoice cites, what names a PO version,
bounded listings, and what each poll lists (``plan_walks``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.ingest.poller import Position, Reach, Walk, plan_walks
from shared.coupa.orders import OrderVersion, by_number, cited_order_lines, cited_po_numbers
from shared.coupa.paging import ChangedSincePager, Listed

T = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
REACH = Reach(
    overlap=timedelta(minutes=5), head_margin=timedelta(seconds=10), first_lookback=timedelta(30)
)


def _po(**fields: Any) -> dict[str, Any]:
    return {
        "id": 4501,
        "po-number": "4501",
        "updated-at": "2025-03-05T16:02:11-08:00",
        "order-lines": [{"id": 70011}, {"id": 70012}],
        **fields,
    }


def test_an_invoice_cites_each_po_once_in_line_order_with_the_po_lines_it_bills():
    invoice = {
        "invoice-lines": [
            {"po-number": "4502", "order-line-id": 70020},
            {"po-number": None, "order-header-num": 4501, "order-line-id": 70011},
            {"po-number": "4502", "order-line-id": None},
            {"po-number": None, "order-line-id": 70099},  # a non-PO line, or one Coupa left bare
            "not a line",
            {"po-number": "4501", "order-line-id": True},
        ]
    }
    assert cited_order_lines(invoice) == {"4502": {70020}, "4501": {70011}}
    assert cited_po_numbers(invoice) == ["4502", "4501"]
    assert cited_po_numbers({"invoice-lines": None}) == []


def test_a_po_version_needs_an_id_a_number_and_a_readable_updated_at():
    version = OrderVersion.of(_po())
    assert version is not None
    assert (version.id, version.number, version.version) == (
        4501,
        "4501",
        "2025-03-05T16:02:11-08:00",
    )
    assert version.updated_at == datetime(2025, 3, 6, 0, 2, 11, tzinfo=UTC)
    assert version.line_ids == {70011, 70012}
    assert OrderVersion.of(_po(**{"order-lines": "x"})).line_ids == frozenset()  # type: ignore[union-attr]
    naive = OrderVersion.of(_po(**{"updated-at": "2025-03-05T16:02:11"}))
    assert naive is not None and naive.updated_at.tzinfo is UTC
    for unusable in ({"id": True}, {"id": "4501"}, {"po-number": ""}, {"updated-at": "soon"}):
        assert OrderVersion.of(_po(**unusable)) is None


def test_pos_by_number_leave_out_one_without_a_number():
    assert by_number([_po(), _po(id=9, **{"po-number": None})]) == {"4501": _po()}


def test_a_pager_may_stop_short_of_an_instant_and_a_listing_names_versions():
    pager = ChangedSincePager(T - timedelta(days=1), limit=50, until=T)
    assert pager.params() == {
        "limit": "50",
        "updated-at[gt_or_eq]": "2026-02-28T12:00:00+00:00",
        "updated-at[lt]": "2026-03-01T12:00:00+00:00",
    }
    listed = Listed.of({"id": 7, "updated_at": "2026-03-01T04:00:00-08:00"})
    assert listed == Listed(7, "2026-03-01T04:00:00-08:00", datetime(2026, 3, 1, 12, tzinfo=UTC))
    assert Listed.of({"id": 8}) == Listed(8, "", None)


def _at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("position", "walks", "settled"),
    [
        # First poll: the lookback, which settles all but the last overlap.
        (Position(None, None), [Walk(T - timedelta(30))], _at(-300).replace(microsecond=0)),
        # Next poll, a moment later: only the margin behind the cursor; nothing newly settled.
        (Position(_at(-15), _at(-310)), [Walk(_at(-25))], _at(-310)),
        # An overlap since the last settle walk: the settled stretch is listed once.
        (
            Position(_at(-15), _at(-700)),
            [Walk(_at(-700), _at(-300).replace(microsecond=0)), Walk(_at(-25))],
            _at(-300).replace(microsecond=0),
        ),
        # Settled within the head margin: the head walk lists the whole stretch.
        (Position(_at(-3600), _at(-3605)), [Walk(_at(-3610))], _at(-300).replace(microsecond=0)),
        # A head lagging (polls failed for a while): the settle walk stops where it starts.
        (
            Position(_at(-400), _at(-1000)),
            [Walk(_at(-1000), _at(-410)), Walk(_at(-410))],
            _at(-300).replace(microsecond=0),
        ),
        # A cursor written before settled_at existed: its old overlap is where settling starts,
        # and that instant is returned to be stored, not derived from a moving cursor again.
        (Position(_at(-15), None), [Walk(_at(-25))], _at(-315)),
    ],
    ids=["first", "next", "settle", "covered", "lagging", "upgraded"],
)
def test_each_poll_lists_the_margin_behind_its_cursor_and_each_settled_stretch_once(
    position, walks, settled
):
    assert plan_walks(T, position, REACH) == (walks, settled)
