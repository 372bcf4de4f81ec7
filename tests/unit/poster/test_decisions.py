"""Pure decisions of the poster: why a claim was refused, version order, cache row rules."""

from __future__ import annotations

from datetime import date

import pytest

from shared.deltek import Period
from shared.ledger import Entry, Refs, refusal
from shared.records import is_newer
from shared.reference.cache import unique
from shared.reference.refresh import is_closed


def entry(state: str, content_hash: str = "h1") -> Entry:
    return Entry("acme:invoice:1", state, content_hash, Refs("B", "K", "V1"), "p1", None, 1, None)


@pytest.mark.parametrize(
    ("state", "content_hash", "expected"),
    [
        ("posted", "h1", "already_posted"),
        ("posted", "h2", "changed_after_post"),
        ("claimed", "h1", "busy"),
        ("entered", "h2", "busy"),
        ("parked", "h1", "busy"),
    ],
)
def test_refusal(state, content_hash, expected):
    assert refusal(entry(state), content_hash) == expected


def test_deltek_ref_names_batch_and_voucher():
    assert Refs("B", "K", "V1").deltek_ref() == "B/V1"
    assert Refs("B", "K").deltek_ref() == "B"


def test_versions_compare_as_times_across_offsets():
    assert is_newer("2026-11-01T12:00:00+01:00", "2026-11-01T10:30:00Z")
    assert not is_newer("2026-11-01T10:00:00-01:00", "2026-11-01T12:00:00+01:00")  # same instant
    assert is_newer("2026-11-01T10:00:00-03:00", "2026-11-01T12:00:00Z")  # text order disagrees
    assert is_newer("b", "a")  # not timestamps: plain order


def test_unique_keeps_one_row_per_key_the_last_winning():
    rows = [("P1", "", "", "old"), ("P1", "100", "", "phase"), ("P1", "", "", "new")]
    assert unique(rows, 3) == [("P1", "", "", "new"), ("P1", "100", "", "phase")]


@pytest.mark.parametrize(
    ("flag", "closed"), [("Y", True), ("N", False), (True, True), (False, False), (None, False)]
)
def test_closed_flag(flag, closed):
    extra = {} if flag is None else {"Closed": flag}
    period = Period.model_validate({"Period": 202606, "AccountPdStart": date(2026, 6, 1), **extra})
    assert is_closed(period) is closed
