"""What the pages make of their input, without a database: search fields, queue sentences."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.console.pages.records import parse_search
from services.console.read.exceptions import Group


def test_a_search_reads_amounts_and_dates():
    wanted, problems = parse_search(
        {"amount": "1,250.50", "date_from": "2026-11-01", "state": "parked", "supplier": "Wiley"}
    )
    assert problems == []
    assert wanted.amount == Decimal("1250.50")
    assert wanted.date_from == date(2026, 11, 1)
    assert (wanted.state, wanted.supplier) == ("parked", "Wiley")


def test_a_search_names_each_field_it_cannot_read():
    wanted, problems = parse_search({"amount": "ten", "date_to": "31/12", "state": "lost"})
    assert len(problems) == 3
    assert (wanted.amount, wanted.date_to, wanted.state) == (None, None, "")


def group(kind: str, label: str, count: int = 12) -> Group:
    return Group("acme", kind, "217", label, count, datetime.now(UTC), [])


@pytest.mark.parametrize(
    ("made", "sentence", "map_kind"),
    [
        (
            group("supplier", "Coupa supplier V-00217 (Wiley)"),
            "12 invoices wait for a Deltek vendor for Coupa supplier V-00217 (Wiley)",
            "supplier",
        ),
        (
            group("inactive_vendor", "Coupa supplier V-00217", 1),
            "1 invoice waits for an active Deltek vendor for Coupa supplier V-00217",
            "supplier",
        ),
        (
            group("account", "", 2),
            "2 invoices wait for a Deltek GL account for Coupa account 217",
            "account",
        ),
        (
            group("account", "mapping.tax_account", 3),
            "3 invoices wait for a Deltek GL account for the connection's "
            "mapping.tax_account (217)",
            None,
        ),
        (
            group("pay_terms", "", 1),
            "1 invoice waits for Deltek pay terms for Coupa pay terms 217",
            None,
        ),
    ],
)
def test_a_group_says_what_its_invoices_wait_for_and_what_fixes_it(made, sentence, map_kind):
    assert made.sentence == sentence
    assert made.map_kind == map_kind
