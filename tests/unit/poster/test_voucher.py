"""The voucher body a command becomes: Deltek's key names, signs, blanks, dates, refusals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.poster.voucher import (
    BLANK_WBS,
    DESCRIPTION_MAX,
    VoucherError,
    build_batch,
)
from shared.connection_settings import DeltekPostingSettings
from shared.deltek.keys import batch_name, line_pkey, master_pkey, voucher_number
from shared.messages import ApLine, PostApInvoice

POSTING = DeltekPostingSettings(company="01", liability_code="Trade", bank_code="OPER")


def command(**changes) -> PostApInvoice:
    values = {
        "job_id": "acme:invoice:98231",
        "connection": "acme",
        "record_key": "acme:invoice:98231",
        "coupa_id": 98231,
        "coupa_version": "2026-06-05T10:00:00+00:00",
        "invoice_number": "SSS-4471",
        "vendor": "SUMMIT0001",
        "invoice_date": date(2026, 6, 3),
        "period": 202606,
        "currency": "USD",
        "pay_terms": "Next",
        "total": Decimal("1850.00"),
        "lines": (
            ApLine(seq=1, description="GPS rover rental - June", account="521.00",
                   wbs1="2024001.00", wbs2="100", amount=Decimal("1500.00"),
                   po_number="PO-77120", source="line"),
            ApLine(seq=2, description="Field supplies (overhead)", account="642.00",
                   amount=Decimal("350.00"), source="line"),
        ),
    }  # fmt: skip
    return PostApInvoice(**{**values, **changes})


def test_body_uses_deltek_key_names_and_derived_keys():
    cmd = command()
    body = build_batch(cmd, POSTING).to_body()
    batch, key = batch_name(cmd.job_id), master_pkey(cmd.job_id)
    assert len(batch) <= 32
    assert body["Batch"] == batch
    assert (body["Period"], body["Company"], body["DefaultCurrencyCode"]) == (202606, "01", "USD")
    assert body["Total"] == Decimal("1850.00")
    (master,) = body["apMaster"]
    assert master["Batch"] == batch
    assert master["MasterPKey"] == key
    assert master["Seq"] == 1
    assert (master["Vendor"], master["Invoice"]) == ("SUMMIT0001", "SSS-4471")
    assert (master["LiabCode"], master["BankCode"], master["PayTerms"]) == (
        "Trade",
        "OPER",
        "Next",
    )
    assert master["InvoiceDate"] == "2026-06-03T00:00:00.000"
    assert master["TransDate"] == "2026-06-03T00:00:00.000"
    assert "Voucher" not in master  # Vantagepoint assigns it (deltek-api.md §3.D)
    assert master["CurrencyCode"] == "USD"
    assert "Address" not in master  # Deltek picks the default remit-to address
    first, second = body["apDetail"]
    assert [d["PKey"] for d in body["apDetail"]] == [
        line_pkey(cmd.job_id, 1),
        line_pkey(cmd.job_id, 2),
    ]
    assert all(d["MasterPKey"] == key and d["Batch"] == batch for d in body["apDetail"])
    assert (first["Seq"], first["Account"], first["Amount"], first["NetAmount"]) == (
        1, "521.00", Decimal("1500.00"), Decimal("1500.00"))  # fmt: skip
    assert (first["WBS1"], first["WBS2"], first["WBS3"]) == ("2024001.00", "100", BLANK_WBS)
    assert (second["WBS1"], second["WBS2"], second["WBS3"]) == (" ", " ", " ")


def test_po_number_only_on_lines_that_have_one():
    details = build_batch(command(), POSTING).to_body()["apDetail"]
    assert details[0]["PONumber"] == "PO-77120"
    assert "PONumber" not in details[1]


def test_keys_are_stable_and_distinct_per_job():
    one, again = build_batch(command(), POSTING), build_batch(command(), POSTING)
    other = build_batch(command(job_id="beta:invoice:98231"), POSTING)
    assert one.to_body() == again.to_body()
    assert one.Batch != other.Batch
    assert one.apMaster[0].MasterPKey != other.apMaster[0].MasterPKey


def test_our_voucher_numbers_only_where_the_company_requires_entry():
    """deltek-api.md §3.D: with voucher_numbers "ours" the job's own number is sent, stable
    across attempts, short and distinct across connections."""
    ours = POSTING.model_copy(update={"voucher_numbers": "ours"})
    cmd = command()
    one, again = build_batch(cmd, ours), build_batch(cmd, ours)
    other = build_batch(command(job_id="beta:invoice:98231"), ours)
    assert one.apMaster[0].Voucher == again.apMaster[0].Voucher == voucher_number(cmd.job_id)
    assert one.apMaster[0].Voucher != other.apMaster[0].Voucher
    assert len(voucher_number(cmd.job_id)) <= 10
    assert "Voucher" not in build_batch(cmd, POSTING).to_body()["apMaster"][0]


def test_credit_note_amounts_are_negative_whichever_sign_the_command_used():
    lines = command().lines
    positive = command(is_credit_note=True)
    negative = command(
        is_credit_note=True,
        total=Decimal("-1850.00"),
        lines=tuple(line.model_copy(update={"amount": -line.amount}) for line in lines),
    )
    for cmd in (positive, negative):
        body = build_batch(cmd, POSTING)
        assert body.Total == Decimal("-1850.00")
        assert [d.Amount for d in body.apDetail] == [Decimal("-1500.00"), Decimal("-350.00")]
        assert [d.NetAmount for d in body.apDetail] == [Decimal("-1500.00"), Decimal("-350.00")]


def test_long_descriptions_are_cut_but_the_invoice_number_never():
    long_number = "INV-" + "9" * 40
    line = command().lines[1].model_copy(update={"description": "x" * 200, "amount": Decimal(1850)})
    body = build_batch(command(invoice_number=long_number, lines=(line,)), POSTING)
    assert body.apDetail[0].Description == "x" * DESCRIPTION_MAX
    assert body.Description is not None
    assert len(body.Description) <= DESCRIPTION_MAX
    assert body.apMaster[0].Invoice == long_number


def test_company_left_out_when_the_connection_names_none():
    body = build_batch(command(), POSTING.model_copy(update={"company": None})).to_body()
    assert "Company" not in body


@pytest.mark.parametrize(
    ("posting", "changes", "words"),
    [
        (POSTING.model_copy(update={"liability_code": None}), {}, "liability_code"),
        (POSTING.model_copy(update={"bank_code": None}), {}, "bank_code"),
        (POSTING, {"pay_terms": None}, "payment terms"),
        (POSTING, {"total": Decimal("1850.01")}, "add up to 1850.00"),
        (POSTING, {"lines": ()}, "no lines"),
    ],
)
def test_what_cannot_become_a_voucher_is_refused_before_sending(posting, changes, words):
    with pytest.raises(VoucherError, match=words):
        build_batch(command(**changes), posting)


def test_the_tenant_settings_are_checked_where_the_connection_is_read():
    """The connections file takes deltek.voucher_numbers and deltek.ledger_invoice_column."""
    assert POSTING.voucher_numbers == "assigned"
    assert POSTING.ledger_invoice_column is None
    fixed = DeltekPostingSettings(voucher_numbers="ours", ledger_invoice_column="InvoiceNumber")
    assert (fixed.voucher_numbers, fixed.ledger_invoice_column) == ("ours", "InvoiceNumber")
    for bad in ({"voucher_numbers": "typed"}, {"ledger_invoice_column": "Invoice; --"}):
        with pytest.raises(ValidationError):
            DeltekPostingSettings.model_validate(bad)
