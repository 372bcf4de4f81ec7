"""The pure resolver over realistic Coupa invoices: lines, splits, charges, tax, credits, checks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.mapper.rules.outcome import Mapped, Parked
from services.mapper.rules.resolve import map_invoice
from shared.reference.view import OpenPeriod
from tests.unit.mapper.builders import (
    CAD,
    NORTHWIND_RECORD,
    SETTINGS,
    Json,
    account,
    allocation,
    event,
    invoice,
    line,
    reference,
)


def mapped(inv: Json, ref=None, *, settings=SETTINGS, supplier=NORTHWIND_RECORD, pos=None):
    result = map_invoice(event(inv, pos), settings, ref or reference(), supplier)
    assert isinstance(result, Mapped), result
    return result.command


def parked(inv: Json, ref=None, *, settings=SETTINGS, supplier=NORTHWIND_RECORD, pos=None):
    result = map_invoice(event(inv, pos), settings, ref or reference(), supplier)
    assert isinstance(result, Parked), result
    return result


def test_a_two_line_po_invoice_with_header_tax_becomes_three_voucher_lines():
    inv = invoice(
        [line(1, "300.00"), line(2, "200.00", account("1001", "5300", "100"))], tax="41.25"
    )
    command = mapped(inv)
    assert command.job_id == "acme:invoice:48213"
    assert command.record_key == "acme:invoice:48213"
    assert (command.vendor, command.invoice_number, str(command.invoice_date)) == (
        "V-00217",
        "NWS-100482",
        "2025-03-01",
    )
    assert command.period == 202503
    assert (command.currency, command.pay_terms, command.pay_date, command.total) == (
        "USD",
        "Date",  # Coupa's "Net 30": invoice date + 30 days (deltek-api.md §3.D)
        date(2025, 3, 31),
        Decimal("541.25"),
    )
    assert command.coupa_version == "2025-03-05T16:02:10-08:00"
    assert [
        (
            ln.seq,
            ln.source,
            ln.account,
            ln.wbs1,
            ln.wbs2,
            ln.wbs3,
            ln.amount,
            ln.po_number,
            ln.coupa_line_id,
        )
        for ln in command.lines
    ] == [
        (1, "line", "5200", "1001", "100", None, Decimal("300.00"), "4501", 96001),
        (2, "line", "5300", "1001", "100", None, Decimal("200.00"), "4501", 96002),
        (3, "tax", "215.00", None, None, None, Decimal("41.25"), None, None),
    ]
    assert not command.is_credit_note


def test_split_allocations_become_one_line_each_in_coupa_order():
    split = line(
        2,
        "1000.00",
        allocations=[
            allocation("600.00", account("1001", "5200", "200"), "60.0"),
            allocation("400.00", account("1002", "5400", None), "40.0"),
        ],
    )
    command = mapped(invoice([line(1, "10.00"), split, line(3, "5.00")]))
    assert [
        (ln.seq, ln.source, ln.wbs1, ln.wbs2, ln.amount, ln.coupa_line_id) for ln in command.lines
    ] == [
        (1, "line", "1001", "100", Decimal("10.00"), 96001),
        (2, "allocation", "1001", "200", Decimal("600.00"), 96002),
        (3, "allocation", "1002", None, Decimal("400.00"), 96002),
        (4, "line", "1001", "100", Decimal("5.00"), 96003),
    ]


def test_allocations_without_amounts_are_shared_by_percentage_to_the_cent():
    split = line(
        1,
        "100.00",
        allocations=[
            allocation(None, account("1001", "5200", "100"), "33.3333"),
            allocation(None, account("1001", "5200", "200"), "33.3333"),
            allocation(None, account("1001", "5200", "300"), "33.3334"),
        ],
    )
    amounts = [ln.amount for ln in mapped(invoice([split])).lines]
    assert amounts == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]


def test_allocations_that_do_not_add_up_to_the_line_park():
    split = line(
        1,
        "300.00",
        allocations=[allocation("200.00", account()), allocation("90.00", account())],
    )
    result = parked(invoice([split], total="300.00"))
    assert (
        "Coupa's split allocations add up to 290.00, not the line total 300.00 (line 1)"
        in result.reasons
    )


def test_charges_and_header_tax_go_to_the_accounts_the_connection_names():
    charges = [
        {"id": 1, "type": "InvoiceShippingCharge", "total": "25.00", "description": "Freight"},
        {"id": 2, "type": "InvoiceMiscCharge", "total": "4.50", "account": account("1001")},
    ]
    inv = invoice(
        [line(1, "100.00")], charges=charges, tax="10.62", fields={"handling-amount": "3.00"}
    )
    inv["total-with-taxes"] = "143.12"
    command = mapped(inv)
    assert [
        (ln.source, ln.description, ln.account, ln.wbs1, ln.amount) for ln in command.lines
    ] == [
        ("line", "Survey work item 1", "5200", "1001", Decimal("100.00")),
        ("charge", "Freight", "642.00", None, Decimal("25.00")),
        ("charge", "Handling", "642.00", None, Decimal("3.00")),
        ("charge", "Miscellaneous charge", "699.00", None, Decimal("4.50")),
        ("tax", "Tax", "215.00", None, Decimal("10.62")),
    ]
    assert command.total == Decimal("143.12")


def test_a_charge_without_a_named_account_books_to_its_coupa_account_or_parks():
    settings = SETTINGS.model_copy(
        update={"mapping": SETTINGS.mapping.model_copy(update={"shipping_account": None})}
    )
    coded = {"type": "InvoiceShippingCharge", "total": "25.00", "account": account("1002", "5500")}
    command = mapped(invoice([line(1, "100.00")], charges=[coded]), settings=settings)
    assert (command.lines[1].account, command.lines[1].wbs1) == ("5500", "1002")

    bare = {"type": "InvoiceShippingCharge", "total": "25.00"}
    result = parked(invoice([line(1, "100.00")], charges=[bare]), settings=settings)
    assert result.reasons == (
        "The connection names no Deltek account for shipping (mapping.shipping_account) and "
        "Coupa codes none on the charge",
    )
    assert result.waiting_for == ({"kind": "setting", "coupa_value": "mapping.shipping_account"},)


def test_line_level_tax_is_one_tax_line_and_a_missing_tax_account_parks():
    lines = [
        line(1, "100.00", fields={"tax-amount": "8.25"}),
        line(2, "200.00", fields={"tax-amount": "16.50"}),
    ]
    inv = invoice(lines, tax="24.75", fields={"line-level-taxation": True})
    assert mapped(inv).lines[-1].amount == Decimal("24.75")
    settings = SETTINGS.model_copy(
        update={"mapping": SETTINGS.mapping.model_copy(update={"tax_account": None})}
    )
    assert parked(inv, settings=settings).reasons == (
        "The connection names no Deltek account for tax (mapping.tax_account)",
    )


def test_a_credit_note_posts_every_amount_negative_whatever_sign_coupa_gave():
    positive = invoice([line(1, "120.00"), line(2, "30.00")], tax="12.38")
    positive["document-type"] = "Credit Note"
    negative = invoice([line(1, "-120.00"), line(2, "-30.00")], tax="-12.38")
    for inv in (positive, negative):
        command = mapped(inv)
        assert command.is_credit_note
        assert command.total == Decimal("-162.38")
        assert [ln.amount for ln in command.lines] == [
            Decimal("-120.00"),
            Decimal("-30.00"),
            Decimal("-12.38"),
        ]


def test_a_non_po_invoice_has_no_po_numbers_and_a_po_line_finds_its_po_by_order_line_id():
    command = mapped(invoice([line(1, "80.00", po=None)]))
    assert command.lines[0].po_number is None

    bare = line(1, "80.00", po=None, order_line_id=70011)
    po = {"id": 4501, "po-number": "4501", "order-lines": [{"id": 70011, "line-num": "1"}]}
    assert mapped(invoice([bare]), pos=[po]).lines[0].po_number == "4501"


def test_a_second_currency_travels_with_the_voucher():
    command = mapped(invoice([line(1, "75.00")], currency=CAD))
    assert (command.currency, command.total) == ("CAD", Decimal("75.00"))


def test_unknown_account_and_inactive_account_park_with_what_they_wait_for():
    result = parked(
        invoice(
            [line(1, "10.00", account("1001", "5999")), line(2, "5.00", account("1001", "999.00"))]
        )
    )
    assert result.reasons == (
        "Coupa GL segment 5999 (account 1001-5999-100) has no Deltek GL account (line 1)",
        "Deltek GL account 999.00 (Retired Account) for Coupa account 1001-999.00-100 is "
        "inactive (line 2)",
    )
    assert [w["coupa_value"] for w in result.waiting_for] == ["5999", "999.00"]


def test_explicit_account_maps_key_on_the_full_code_before_the_segment():
    ref = reference(maps={"account": {"5999": "531.00", "1001-5200-100": "642.00"}})
    command = mapped(
        invoice([line(1, "10.00", account("1001", "5999")), line(2, "5.00", account())]), ref
    )
    assert [ln.account for ln in command.lines] == ["531.00", "642.00"]


def test_the_period_is_the_open_one_holding_the_approval_else_the_next_open_one():
    closed_march = reference(periods=[p for p in reference().open_periods if p.period != 202503])
    assert mapped(invoice([line(1, "10.00")]), closed_march).period == 202504
    result = parked(invoice([line(1, "10.00")]), reference(periods=[]))
    assert result.reasons == ("No open Deltek period for 2025-03",)
    assert result.waiting_for == ({"kind": "period", "coupa_value": "2025-03"},)
    earlier = reference(periods=[OpenPeriod(202501, *_january())])
    assert parked(invoice([line(1, "10.00")]), earlier).reasons == (
        "No open Deltek period for 2025-03",
    )


def _january():
    from datetime import date

    return date(2025, 1, 1), date(2025, 1, 31)


def test_totals_off_by_one_cent_park_with_both_figures():
    result = parked(invoice([line(1, "300.00"), line(2, "200.00")], total="500.01"))
    assert result.reasons == (
        "Coupa's total for invoice NWS-100482 is 500.01 but its lines add up to 500.00",
    )
    assert result.waiting_for == ()


def test_several_problems_are_all_listed_at_once_each_naming_its_lines():
    inv = invoice(
        [
            line(1, "10.00", account("1001", "5999")),
            line(2, "10.00", account("1003")),
            line(3, "10.00", account("1001", "5999")),
        ],
        total="30.05",
        supplier={"id": 900, "number": "V-00900", "name": "Nobody Known"},
    )
    result = parked(inv, supplier=None)
    assert result.reasons == (
        "Coupa supplier V-00900 (Nobody Known) has no Deltek vendor",
        "Coupa GL segment 5999 (account 1001-5999-100) has no Deltek GL account (lines 1, 3)",
        "Deltek project 1003 (Project 1003) is dormant (line 2)",
        "Coupa's total for invoice NWS-100482 is 30.05 but its lines add up to 30.00",
    )
    assert [(w["kind"], w["coupa_value"]) for w in result.waiting_for] == [
        ("supplier", "900"),
        ("account", "5999"),
        ("project", "1003"),
    ]
    assert result.reason.count("; ") == 3


def test_voided_and_unapproved_invoices_park_with_their_status_in_words():
    voided = invoice([line(1, "10.00")], status="voided")
    assert parked(voided).reasons == (
        "Coupa invoice NWS-100482 was voided in Coupa before it was posted; nothing was sent",
    )
    held = invoice([line(1, "10.00")], status="on_hold")
    assert "is on hold in Coupa, not approved" in parked(held).reason


def test_unreadable_amounts_park_instead_of_failing():
    assert "has an unreadable value" in parked(invoice([line(1, "10.00")], total="ten")).reason
