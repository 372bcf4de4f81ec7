"""Coupa payment terms become Vantagepoint's closed set (deltek-api.md §3.D), never a copy."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from shared.connection_settings import MappingSettings
from tests.unit.mapper.builders import NORTHWIND_RECORD, SETTINGS, invoice, line
from tests.unit.mapper.test_resolve import mapped, parked

NET_45 = {"id": 5, "code": "Net 45", "days-for-net-payment": 45}
ON_NET_45 = invoice([line(1, "100.00")], fields={"payment-term": NET_45})


def with_mapping(**changes: Any):
    return SETTINGS.model_copy(update={"mapping": SETTINGS.mapping.model_copy(update=changes)})


def test_a_term_with_net_days_becomes_date_with_the_pay_date_by_default():
    command = mapped(ON_NET_45)
    assert (command.pay_terms, command.pay_date) == ("Date", date(2025, 4, 15))


def test_the_connection_can_send_net_terms_as_next():
    settings = with_mapping(net_terms_as="Next")
    command = mapped(
        invoice([line(1, "100.00")], fields={"payment-term": NET_45}), settings=settings
    )
    assert (command.pay_terms, command.pay_date) == ("Next", None)


def test_an_explicit_map_wins_over_the_net_days():
    settings = with_mapping(pay_terms={"Net 45": "Hold"})
    command = mapped(
        invoice([line(1, "100.00")], fields={"payment-term": NET_45}), settings=settings
    )
    assert (command.pay_terms, command.pay_date) == ("Hold", None)


def test_an_unknown_term_parks_naming_the_term_and_the_setting_then_goes_on_once_mapped():
    due = {"id": 9, "code": "Due on receipt"}
    inv = invoice([line(1, "100.00")], fields={"payment-term": due})
    result = parked(inv)
    assert "'Due on receipt'" in result.reason and "mapping.pay_terms" in result.reason
    assert {"kind": "pay_terms", "coupa_value": "Due on receipt"} in result.waiting_for
    command = mapped(inv, settings=with_mapping(pay_terms={"Due on receipt": "Next"}))
    assert command.pay_terms == "Next"


def test_a_term_mapped_to_date_without_net_days_parks():
    inv = invoice([line(1, "100.00")], fields={"payment-term": {"id": 9, "code": "EOM"}})
    result = parked(inv, settings=with_mapping(pay_terms={"EOM": "Date"}))
    assert "'EOM' maps to Deltek terms Date, but has no net days" in result.reason


def test_an_invoice_without_a_term_takes_its_suppliers_then_parks_without_either():
    inv = invoice([line(1, "100.00")], fields={"payment-term": None})
    supplier = {**NORTHWIND_RECORD, "payment-term": NET_45}
    assert mapped(inv, supplier=supplier).pay_date == date(2025, 4, 15)
    assert "has no payment term in Coupa" in parked(inv).reason


def test_settings_refuse_a_deltek_term_outside_the_closed_set():
    with pytest.raises(ValidationError, match="'Next', 'PWP', 'Hold' or 'Date'"):
        MappingSettings.model_validate({"pay_terms": {"Net 30": "Net30"}})
