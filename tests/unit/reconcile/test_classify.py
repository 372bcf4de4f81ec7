"""The pure classification: every class, its precedence, and which invoices are in the period."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from shared.reconcile.classify import classify
from shared.reconcile.model import (
    Booking,
    CoupaSide,
    DeltekVoucher,
    Finding,
    Kind,
    Line,
    balances,
    class_totals,
)

PERIOD = 202612
LINES = (
    Line("513.00", "2023001.00", "200", "", Decimal("100.00")),
    Line("642.00", "", "", "", Decimal("23.45")),
)


def coupa(coupa_id: int = 1, **changes: object) -> CoupaSide:
    values: dict[str, object] = {
        "coupa_id": coupa_id,
        "invoice_number": f"INV-{coupa_id}",
        "supplier": "Summit Survey LLC",
        "status": "approved",
        "total": Decimal("123.45"),
        "currency": "USD",
        "approved_on": date(2026, 12, 3),
    }
    return CoupaSide(**{**values, **changes})  # type: ignore[arg-type]


def booking(coupa_id: int = 1, **changes: object) -> Booking:
    values: dict[str, object] = {
        "coupa_id": coupa_id,
        "state": "posted",
        "vendor": "V100",
        "invoice_number": f"INV-{coupa_id}",
        "period": PERIOD,
        "total": Decimal("123.45"),
        "lines": LINES,
        "batch": f"CP{coupa_id}",
    }
    return Booking(**{**values, **changes})  # type: ignore[arg-type]


def voucher(coupa_id: int = 1, **changes: object) -> DeltekVoucher:
    values: dict[str, object] = {
        "batch": f"CP{coupa_id}",
        "voucher": f"{coupa_id:06d}",
        "vendor": "V100",
        "invoice": f"INV-{coupa_id}",
        "period": PERIOD,
        "posted": True,
        "currency": "USD",
        "lines": LINES,
    }
    return DeltekVoucher(**{**values, **changes})  # type: ignore[arg-type]


def one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def test_an_invoice_booked_as_sent_is_matched() -> None:
    found = one(classify(PERIOD, [coupa()], [voucher()], {1: booking()}))
    assert found.kind is Kind.MATCHED
    assert (found.coupa_amount, found.deltek_amount) == (Decimal("123.45"), Decimal("123.45"))
    assert found.vouchers == ("000001 in CP1",)


def test_an_entered_voucher_in_data_entry_counts_like_a_posted_one() -> None:
    found = one(classify(PERIOD, [coupa()], [voucher(posted=False)], {1: booking()}))
    assert found.kind is Kind.MATCHED


def test_lines_in_another_order_still_match() -> None:
    reordered = voucher(lines=tuple(reversed(LINES)))
    assert one(classify(PERIOD, [coupa()], [reordered], {1: booking()})).kind is Kind.MATCHED


def test_missing_in_deltek_says_the_connectors_state_and_reason() -> None:
    parked = booking(state="parked", reason="No Deltek vendor for supplier 7", batch=None)
    found = one(classify(PERIOD, [coupa()], [], {1: parked}))
    assert found.kind is Kind.MISSING_IN_DELTEK
    assert found.connector_state == "parked"
    assert found.detail == "connector: parked: No Deltek vendor for supplier 7"


def test_missing_in_deltek_without_any_record_says_so() -> None:
    found = one(classify(PERIOD, [coupa()], [], {}))
    assert found.kind is Kind.MISSING_IN_DELTEK
    assert found.detail == "the connector has no record of it"
    assert found.connector_state is None


def test_a_voucher_no_coupa_invoice_has_is_not_from_coupa() -> None:
    by_hand = voucher(99, batch="AP-HAND-1", vendor="V200", invoice="HAND-1")
    found = one(classify(PERIOD, [], [by_hand], {}))
    assert found.kind is Kind.NOT_FROM_COUPA
    assert (found.vendor, found.invoice_number, found.coupa_id) == ("V200", "HAND-1", None)
    assert found.amount == Decimal("123.45")


def test_a_hand_keyed_voucher_of_another_period_is_not_this_periods() -> None:
    elsewhere = voucher(99, batch="AP-HAND-1", invoice="HAND-1", period=202611)
    assert classify(PERIOD, [], [elsewhere], {}) == []


def test_a_different_total_is_an_amount_mismatch() -> None:
    lines = (*LINES[:1], replace(LINES[1], amount=Decimal("20.00")))
    found = one(classify(PERIOD, [coupa()], [voucher(lines=lines)], {1: booking()}))
    assert found.kind is Kind.AMOUNT_MISMATCH
    assert found.detail == "Deltek's total differs by -3.45"
    assert found.deltek_amount == Decimal("120.00")


def test_a_vendor_changed_in_the_connectors_batch_is_a_vendor_mismatch() -> None:
    found = one(classify(PERIOD, [coupa()], [voucher(vendor="V999")], {1: booking()}))
    assert found.kind is Kind.VENDOR_MISMATCH
    assert "V999" in found.detail


def test_same_total_other_lines_is_a_line_mismatch() -> None:
    moved = (replace(LINES[0], account="531.00"), LINES[1])
    found = one(classify(PERIOD, [coupa()], [voucher(lines=moved)], {1: booking()}))
    assert found.kind is Kind.LINE_MISMATCH


def test_voided_in_coupa_after_posting() -> None:
    voided = coupa(status="voided")
    found = one(classify(PERIOD, [voided], [voucher()], {1: booking()}))
    assert found.kind is Kind.CHANGED_IN_COUPA
    assert found.detail == "voided in Coupa after it reached Deltek"


def test_a_new_total_in_coupa_after_posting_is_changed_in_coupa() -> None:
    changed = coupa(total=Decimal("200.00"))
    found = one(classify(PERIOD, [changed], [voucher()], {1: booking()}))
    assert found.kind is Kind.CHANGED_IN_COUPA
    assert "200.00" in found.detail


def test_a_record_the_connector_flagged_is_changed_in_coupa() -> None:
    found = one(classify(PERIOD, [coupa()], [voucher()], {1: booking(state="flagged")}))
    assert found.kind is Kind.CHANGED_IN_COUPA


def test_two_vouchers_for_one_invoice_is_posted_twice_and_claims_both() -> None:
    again = voucher(batch="AP-HAND-2", voucher="000777")
    found = one(classify(PERIOD, [coupa()], [voucher(), again], {1: booking()}))
    assert found.kind is Kind.POSTED_TWICE
    assert found.vouchers == ("000001 in CP1", "000777 in AP-HAND-2")
    assert found.deltek_amount is None


def test_posted_twice_wins_over_a_void() -> None:
    """Two vouchers are the worse news: one must go whatever happened in Coupa."""
    voided = coupa(status="voided")
    two = [voucher(), voucher(batch="AP-HAND-2")]
    assert one(classify(PERIOD, [voided], two, {1: booking()})).kind is Kind.POSTED_TWICE


def test_a_change_in_coupa_wins_over_the_mismatches_it_explains() -> None:
    changed = coupa(total=Decimal("200.00"))
    found = one(classify(PERIOD, [changed], [voucher(vendor="V999")], {1: booking()}))
    assert found.kind is Kind.CHANGED_IN_COUPA


def test_vendor_mismatch_wins_over_amount_mismatch() -> None:
    lines = (LINES[0],)
    wrong = voucher(vendor="V999", lines=lines)
    assert one(classify(PERIOD, [coupa()], [wrong], {1: booking()})).kind is Kind.VENDOR_MISMATCH


def test_an_invoice_without_a_command_is_matched_on_its_total_alone() -> None:
    """A record with no command (or lines) to compare: nothing says the lines are wrong."""
    bare = booking(lines=(), vendor="V100")
    assert one(classify(PERIOD, [coupa()], [voucher()], {1: bare})).kind is Kind.MATCHED


def test_a_credit_note_is_compared_signed() -> None:
    minus = tuple(replace(line, amount=-line.amount) for line in LINES)
    credit = coupa(total=Decimal("-123.45"))
    booked = booking(total=Decimal("-123.45"), lines=minus)
    found = one(classify(PERIOD, [credit], [voucher(lines=minus)], {1: booked}))
    assert found.kind is Kind.MATCHED
    assert found.amount == Decimal("-123.45")


@pytest.mark.parametrize(
    ("approved_on", "expected"),
    [(date(2026, 12, 1), 1), (date(2026, 12, 31), 1), (date(2026, 11, 30), 0), (None, 0)],
)
def test_an_unbooked_invoice_belongs_to_the_month_it_was_approved(
    approved_on: date | None, expected: int
) -> None:
    assert len(classify(PERIOD, [coupa(approved_on=approved_on)], [], {})) == expected


def test_a_booked_invoice_belongs_to_the_period_it_was_booked_in() -> None:
    """Approved on the last day of a closed month, booked in the next open one."""
    late = coupa(approved_on=date(2026, 11, 30))
    assert one(classify(PERIOD, [late], [voucher()], {1: booking()})).kind is Kind.MATCHED
    assert classify(202611, [late], [], {1: booking()}) == []


def test_an_invoice_of_another_period_that_a_voucher_of_this_one_carries_is_judged() -> None:
    elsewhere = booking(period=202611)
    found = one(classify(PERIOD, [coupa()], [voucher()], {1: elsewhere}))
    assert found.kind is Kind.MATCHED


def test_a_voided_invoice_never_booked_is_left_out() -> None:
    assert classify(PERIOD, [coupa(status="voided")], [], {}) == []


def test_vouchers_of_the_same_vendor_and_invoice_for_other_vendors_are_not_claimed() -> None:
    """The seed's INV-1 of another vendor is somebody else's invoice."""
    other = voucher(batch="SEED-1", vendor="V555")
    found = classify(PERIOD, [coupa()], [voucher(), other], {1: booking()})
    assert [f.kind for f in found] == [Kind.MATCHED, Kind.NOT_FROM_COUPA]


def test_an_unbooked_invoice_is_never_matched_to_a_voucher_on_the_number_alone() -> None:
    """Without the connector's vendor, a same-numbered voucher may be any vendor's."""
    found = classify(PERIOD, [coupa()], [voucher(batch="SEED-1")], {})
    assert [f.kind for f in found] == [Kind.MISSING_IN_DELTEK, Kind.NOT_FROM_COUPA]


def test_one_voucher_is_claimed_by_one_of_two_invoices_with_its_vendor_and_number() -> None:
    """A duplicate in Coupa: the same vendor and number twice, and one voucher in Deltek."""
    twins = [coupa(1), coupa(2, invoice_number="INV-1")]
    bookings = {1: booking(1), 2: booking(2, invoice_number="INV-1")}
    found = classify(PERIOD, twins, [voucher(1)], bookings)
    assert [(f.coupa_id, f.kind, f.vouchers) for f in found] == [
        (1, Kind.MATCHED, ("000001 in CP1",)),
        (2, Kind.MISSING_IN_DELTEK, ()),
    ]


def test_totals_count_every_class_and_keep_currencies_apart() -> None:
    findings = [
        Finding(Kind.MATCHED, "A", "V1", coupa_amount=Decimal("10.00"), currency="USD"),
        Finding(Kind.MATCHED, "B", "V1", coupa_amount=Decimal("2.50"), currency="USD"),
        Finding(Kind.MATCHED, "C", "V1", coupa_amount=Decimal("7.00"), currency="CAD"),
        Finding(Kind.NOT_FROM_COUPA, "D", "V2", deltek_amount=Decimal("5.00"), currency="USD"),
    ]
    rows = {(t.kind, t.currency): (t.invoices, t.amount) for t in class_totals(findings)}
    assert rows[("matched", "USD")] == (2, Decimal("12.50"))
    assert rows[("matched", "CAD")] == (1, Decimal("7.00"))
    assert rows[("not_from_coupa", "USD")] == (1, Decimal("5.00"))
    assert rows[("posted_twice", "")] == (0, Decimal(0))
    assert {kind for kind, _ in rows} == {kind.value for kind in Kind}
    assert balances(findings)  # a voucher keyed by hand is normal: the period still balances
    assert balances(findings[:3])


@pytest.mark.parametrize(
    "kind", [kind for kind in Kind if kind not in (Kind.MATCHED, Kind.NOT_FROM_COUPA)]
)
def test_every_other_class_unbalances_the_period(kind: Kind) -> None:
    findings = [
        Finding(Kind.MATCHED, "A", "V1", coupa_amount=Decimal("10.00"), currency="USD"),
        Finding(Kind.NOT_FROM_COUPA, "D", "V2", deltek_amount=Decimal("5.00"), currency="USD"),
        Finding(kind, "E", "V1", coupa_amount=Decimal("1.00"), currency="USD"),
    ]
    assert not balances(findings)
