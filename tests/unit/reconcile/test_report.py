"""The printed report and the CSV: what does not match first, totals of every class, exact money."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from services.cli.reconcile.report import CSV_COLUMNS, show, write_csv
from services.cli.reconcile.run import Reconciliation
from shared.reconcile.model import Finding, Kind

FINDINGS = [
    Finding(Kind.MATCHED, "INV-1", "V1", 1, Decimal("10.005"), Decimal("10.005"), "USD"),
    Finding(
        Kind.POSTED_TWICE,
        "INV-2",
        "V1",
        2,
        Decimal("-5.00"),
        currency="USD",
        vouchers=("000001 in CP2", "000002 in AP-HAND"),
        connector_state="posted",
        detail="2 vouchers for one invoice (posted, posted)",
    ),
]


def printed(result: Reconciliation) -> str:
    console = Console(record=True, width=200)
    show(result, console)
    return console.export_text()


def test_the_report_lists_what_does_not_match_and_totals_every_class() -> None:
    text = printed(Reconciliation("acme", 202612, False, FINDINGS))
    assert "acme 2026-12: what does not match" in text
    assert "INV-2" in text and "000002 in AP-HAND" in text
    assert "INV-1 " not in text  # matches are only counted
    assert all(kind.value in text for kind in Kind)
    assert "-5.00 USD" in text
    assert text.rstrip().endswith("reconcile: acme 2026-12 (open): 2 invoices, 1 to look at")


def test_a_period_that_balances_says_so_without_a_findings_table() -> None:
    text = printed(Reconciliation("acme", 202611, True, FINDINGS[:1]))
    assert "what does not match" not in text
    assert text.rstrip().endswith("reconcile: acme 2026-11 (closed): 1 invoices, balances")


def test_vouchers_keyed_by_hand_are_listed_but_the_period_balances() -> None:
    hand = Finding(
        Kind.NOT_FROM_COUPA,
        "HAND-1",
        "V9",
        deltek_amount=Decimal("12.00"),
        currency="USD",
        vouchers=("000003 in AP-HAND",),
        detail="keyed in Deltek: no Coupa invoice has it",
    )
    text = printed(Reconciliation("acme", 202611, True, [FINDINGS[0], hand]))
    assert "acme 2026-11: what does not match" in text
    assert "HAND-1" in text and "000003 in AP-HAND" in text
    assert text.rstrip().endswith(
        "reconcile: acme 2026-11 (closed): 2 invoices, balances (1 not from Coupa)"
    )


def test_the_csv_holds_every_finding_with_exact_amounts(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    write_csv(Reconciliation("acme", 202612, False, FINDINGS), path)
    with path.open() as written:
        rows = list(csv.DictReader(written))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [(r["class"], r["coupa_amount"], r["deltek_amount"]) for r in rows] == [
        ("matched", "10.005", "10.005"),
        ("posted_twice", "-5.00", ""),
    ]
    assert rows[1]["vouchers"] == "000001 in CP2; 000002 in AP-HAND"
