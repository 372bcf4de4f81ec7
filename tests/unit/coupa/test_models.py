"""The tolerant Coupa field types: what each reads, what it refuses, and how a refusal is named."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from services.ingest.inbox import identity
from shared.coupa.models import (
    Amount,
    CoupaInvoice,
    CoupaInvoiceHeader,
    CoupaSupplier,
    NotAnObject,
    Text,
    Timestamp,
    UnreadableError,
    Whole,
)
from shared.records import event_version

PACIFIC = timezone(-timedelta(hours=8))
numberish = st.sampled_from(["1e9999999", "-1e-9999999", "NaN", "-Infinity", "-0", "12.345"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | numberish,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def read(kind, value):
    return TypeAdapter(kind).validate_python(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" Net 30 ", "Net 30"),
        ("  ", None),
        (None, None),
        (4501, "4501"),
        ({"a": 1}, None),
        (["Net 30"], None),
    ],
)
def test_text_is_trimmed_and_an_object_or_list_is_no_text(value, expected):
    assert read(Text, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.10", "1.10"), (" -0.50 ", "-0.50"), (0.1, "0.1"), (120, "120"), ("", None), (None, None)],
)
def test_an_amount_is_the_exact_decimal_of_its_text_never_a_float(value, expected):
    amount = read(Amount, value)
    assert amount is None or isinstance(amount, Decimal)
    assert str(amount) == str(expected)  # the same digits and places: no float on the way


@pytest.mark.parametrize(
    "value",
    [
        "ten",
        "1,000.00",
        "NaN",
        "Infinity",
        "1e999999",
        "1e9999999",
        10**15,
        "-1e15",
        True,
        float("nan"),
    ],
)
def test_what_is_no_finite_amount_below_10_to_the_15_is_refused_naming_the_value(value):
    with pytest.raises(UnreadableError, match=r"^total-with-taxes: '.*' is not an amount$"):
        CoupaInvoice.from_api({"total-with-taxes": value})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-05T16:02:10-08:00", datetime(2025, 3, 5, 16, 2, 10, tzinfo=PACIFIC)),
        ("2025-03-05T16:02:10Z", datetime(2025, 3, 5, 16, 2, 10, tzinfo=UTC)),
        ("yesterday", None),
        (1741219330, None),
        ({"at": "2025-03-05"}, None),
    ],
)  # fmt: skip
def test_a_timestamp_is_iso_8601_and_anything_else_is_none(value, expected):
    assert read(Timestamp, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(48213, 48213), (" 48213 ", 48213), (True, None), (-1, None), (2.0, None), ("x", None)],
)
def test_an_id_is_a_whole_number_or_its_digits_and_anything_else_is_none(value, expected):
    assert read(Whole, value) == expected


def test_shapes_that_cannot_be_read_are_named_the_way_coupa_names_the_fields():
    body = {
        "currency": "USD",
        "invoice-lines": [
            {"total": "10.00", "account-allocations": "split"},
            7,
            {"total": "ten"},
        ],
        "invoice-charges": {"type": "InvoiceShippingCharge"},
    }
    with pytest.raises(UnreadableError) as raised:
        CoupaInvoice.from_api(body)
    assert str(raised.value) == (
        "currency is not an object; "
        "invoice-lines item 1 account-allocations is not a list; "
        "invoice-lines item 2 is not an object; "
        "invoice-lines item 3 total: 'ten' is not an amount; "
        "invoice-charges is not a list"
    )


def test_nulls_and_empty_objects_read_as_nothing_and_unused_shapes_are_left_out():
    invoice = CoupaInvoice.from_api(
        {
            "supplier": {},
            "invoice-lines": None,
            "invoice-charges": None,
            "payment-term": "Net 30",
        }
    )
    assert (invoice.supplier, invoice.payment_term) == (None, None)
    assert (invoice.invoice_lines, invoice.invoice_charges) == ([], [])


def test_an_account_that_is_no_object_is_kept_as_such_for_its_line_to_say_so():
    lines = [{"account": "1001-5200"}, {"account": ""}, {"account": {"segment-2": " 5200 "}}]
    invoice = CoupaInvoice.from_api({"invoice-lines": lines})
    first, second, third = (line.account for line in invoice.invoice_lines)
    assert isinstance(first, NotAnObject)
    assert second is None
    assert third is not None and not isinstance(third, NotAnObject)
    assert (third.segment(2), third.segment(3)) == ("5200", None)


def test_unknown_keys_are_kept_as_sent_and_only_coupas_names_are_read():
    body = {"invoice_number": "underscored", "x-unknown": {"a": [1]}, "updated-at": " v1 "}
    invoice = CoupaInvoice.from_api(body)
    assert invoice.invoice_number is None
    assert invoice.model_extra == {"invoice_number": "underscored", "x-unknown": {"a": [1]}}
    assert invoice.raw is body
    assert invoice.version == " v1 "


def test_a_supplier_keeps_only_its_remit_to_objects_and_reads_a_country_object_or_code():
    supplier = CoupaSupplier.from_api(
        {
            "remit-to-addresses": [
                "old",
                {"active": None, "country": "CA"},
                {"street1": "100 Harbor Way", "country": {"code": "US"}},
            ],
            "custom-fields": ["not", "an", "object"],
        }
    )
    assert [(a.active, a.country) for a in supplier.remit_to_addresses] == [
        (False, "CA"),
        (True, "US"),
    ]
    assert supplier.custom_fields is None


@given(json_values)
def test_a_supplier_and_an_invoice_header_read_from_any_json_object(value):
    body = value if isinstance(value, dict) else {"id": value, "remit-to-addresses": value}
    CoupaSupplier.from_api(body)
    CoupaInvoiceHeader.from_api(body)


@given(json_values)
def test_an_invoice_reads_or_names_what_it_cannot_read_and_raises_nothing_else(value):
    line = {"total": value, "tax-amount": value, "account": value, "account-allocations": value}
    body = value if isinstance(value, dict) else {"currency": value, "invoice-lines": [line]}
    with contextlib.suppress(UnreadableError):
        CoupaInvoice.from_api(body)


def test_every_reader_names_a_version_alike_in_either_spelling():
    """coupa-api.md §3.2: ``updated_at`` works as well as ``updated-at``; ingest, the records and
    the mapper's model must agree on the version, or a job looks superseded by itself."""
    for key in ("updated-at", "updated_at"):
        body = {"id": 7, key: "2026-01-02T00:00:00Z"}
        versions = {
            identity(body)[1],
            event_version({"invoice": body}, "invoice"),
            CoupaInvoiceHeader.from_api(body).version,
        }
        assert versions == {"2026-01-02T00:00:00Z"}
