"""Building ``UpsertVendor`` from a Coupa supplier: firm fields, remit-to, terms, 1099, parking."""

from __future__ import annotations

import copy
from typing import Any, get_args

import pytest
import yaml

from services.mapper.rules.outcome import Parked
from services.mapper.rules.supplier import build_upsert_vendor, tin_type
from shared.connection_settings import (
    ConnectionSettings,
    MappingSettings,
    VendorField,
    VendorFields,
)
from shared.connections.file import ConnectionFileError, parse_connections
from shared.messages import UpsertVendor

# coupa-api.md §9.4, trimmed to what vendor sync reads.
SUPPLIER: dict[str, Any] = {
    "id": 217,
    "updated-at": "2025-02-20T10:30:00-08:00",
    "name": "Northwind Survey Services LLC",
    "display-name": "Northwind Survey",
    "number": "V-00217",
    "status": "active",
    "tax-id": "91-1234567",
    "payment-term": {"id": 4, "code": "Net 30", "description": "Net 30 days",
                     "days-for-net-payment": 30},
    "remit-to-addresses": [
        {"id": 904, "active": False, "street1": "Old Rd 1", "city": "Tacoma",
         "country": {"code": "US"}},
        {"id": 905, "remit-to-code": "NWS-MAIN", "street1": "100 Harbor Way", "street2": "Suite 4",
         "street3": None, "city": "Seattle", "state": "WA", "postal-code": "98101",
         "country": {"id": 223, "code": "US", "name": "United States"}, "active": True},
    ],
    "custom-fields": {"form-1099": True},
}  # fmt: skip


def settings(**mapping: Any) -> ConnectionSettings:
    return ConnectionSettings(name="acme", mapping=MappingSettings(create_vendors=True, **mapping))


def build(supplier: dict[str, Any] | None = None, **mapping: Any) -> UpsertVendor | Parked:
    return build_upsert_vendor(supplier or SUPPLIER, settings(**mapping), "v1")


def test_a_supplier_becomes_a_vendor_firm_with_tax_id_remit_to_terms_and_1099():
    command = build(vendor_1099_field="form-1099", pay_terms={"Net 30": "Next"})
    assert isinstance(command, UpsertVendor)
    assert command.job_id == command.record_key == "acme:supplier:217"
    assert (command.name, command.sort_name) == ("Northwind Survey Services LLC",) * 2
    assert command.vendor_number is None  # left to Deltek's autonumbering by default
    assert (command.tax_id, command.tin_type, command.active) == ("91-1234567", "EIN", True)
    assert command.remit_to is not None
    assert command.remit_to.model_dump() == {
        "name": "Remit", "address1": "100 Harbor Way", "address2": "Suite 4", "address3": None,
        "city": "Seattle", "state": "WA", "zip": "98101", "country": "United States",
    }  # fmt: skip
    assert (command.pay_terms, command.pay_terms_description) == ("Next", "Net 30 days")
    assert command.req_1099 is True


def test_vendor_number_comes_from_coupa_only_when_the_connection_says_so():
    command = build(vendor_number_from_coupa=True)
    assert isinstance(command, UpsertVendor) and command.vendor_number == "V-00217"


def test_an_unmanaged_1099_flag_is_left_to_deltek():
    command = build(pay_terms={"Net 30": "Next"})
    assert isinstance(command, UpsertVendor) and command.req_1099 is None


def test_a_term_deltek_does_not_know_parks_naming_the_term_and_the_setting():
    """deltek-api.md §3.D: vendor PayTerms take Vantagepoint's closed set, never Coupa's code."""
    supplier = copy.deepcopy(SUPPLIER)
    del supplier["payment-term"]["days-for-net-payment"]
    parked = build(supplier)
    assert isinstance(parked, Parked)
    assert "'Net 30'" in parked.reason and "mapping.pay_terms" in parked.reason
    assert parked.waiting_for == ({"kind": "pay_terms", "coupa_value": "Net 30"},)


def test_a_term_with_net_days_becomes_date_or_next_as_the_connection_says():
    dated, nextrun = build(), build(net_terms_as="Next")
    assert isinstance(dated, UpsertVendor) and isinstance(nextrun, UpsertVendor)
    assert (dated.pay_terms, nextrun.pay_terms) == ("Date", "Next")


def test_a_supplier_without_a_term_leaves_the_firms_terms_to_deltek():
    command = build({k: v for k, v in SUPPLIER.items() if k != "payment-term"})
    assert isinstance(command, UpsertVendor) and command.pay_terms is None


def test_inactive_and_draft_suppliers_make_inactive_firms_but_deactivate_none_by_default():
    for status in ("inactive", "draft"):
        command = build({**SUPPLIER, "status": status})
        assert isinstance(command, UpsertVendor) and not command.active
        assert command.field_writes == {"status": "create"}  # a new firm only
        allowed = build({**SUPPLIER, "status": status}, deactivate_vendors=True)
        assert isinstance(allowed, UpsertVendor) and allowed.field_writes == {}
    left = build({**SUPPLIER, "status": "inactive"}, vendor_fields={"status": "never"})
    assert isinstance(left, UpsertVendor) and left.field_writes == {"status": "never"}


def test_default_settings_keep_every_field_in_sync_and_earlier_content_hashes():
    command = build()
    assert isinstance(command, UpsertVendor) and command.field_writes == {}
    assert "field_writes" not in command.model_dump(exclude_defaults=True)


def test_the_fields_not_kept_in_sync_travel_with_the_command():
    fields = {"name": "create", "pay_terms": "create", "tax_id": "never"}
    command = build(vendor_fields=fields)
    assert isinstance(command, UpsertVendor) and command.field_writes == fields
    assert command.tax_id == "91-1234567"  # never written, still used to find the firm
    assert command.pay_terms == "Date"


def test_a_field_never_written_is_not_read_so_it_cannot_park_the_supplier():
    supplier = copy.deepcopy(SUPPLIER)
    supplier["remit-to-addresses"][1]["country"] = {"code": "ZZ"}
    del supplier["payment-term"]["days-for-net-payment"]
    fields = {"remit_to": "never", "pay_terms": "never", "form_1099": "never"}
    command = build(supplier, vendor_fields=fields, vendor_1099_field="form-1099")
    assert isinstance(command, UpsertVendor)
    assert (command.remit_to, command.pay_terms, command.req_1099) == (None, None, None)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"colour": "sync"}, "unknown key 'mapping.vendor_fields.colour'; allowed here: name, "),
        ({"name": "never"}, "mapping.vendor_fields.name: Input should be 'sync' or 'create'"),
        ({"pay_terms": "always"}, "mapping.vendor_fields.pay_terms: Input should be 'sync', "),
    ],
)
def test_the_connections_file_refuses_unknown_vendor_fields_naming_the_key(fields, problem):
    entry = {
        "name": "acme",
        "coupa": {"base_url": "https://acme.coupahost.com", "client_id": "c", "client_secret": "s"},
        "deltek": {"base_url": "https://acme.deltek.com/api", "database": "D", "username": "u",
                   "client_id": "c", "password": "p", "client_secret": "s"},
        "mapping": {"create_vendors": True, "vendor_fields": fields},
    }  # fmt: skip
    with pytest.raises(ConnectionFileError) as refused:
        parse_connections(yaml.safe_dump({"connections": [entry]}), "connections.yaml")
    assert [p for p in refused.value.problems if problem in p], refused.value.problems
    assert set(VendorFields.model_fields) == set(get_args(VendorField))


def test_an_unknown_country_code_parks_with_a_clear_reason():
    supplier = copy.deepcopy(SUPPLIER)
    supplier["remit-to-addresses"][1]["country"] = {"code": "ZZ"}
    parked = build(supplier)
    assert isinstance(parked, Parked)
    assert "Coupa supplier V-00217 (Northwind Survey Services LLC)" in parked.reason
    assert "country ZZ" in parked.reason and "country_names" in parked.reason
    command = build(supplier, country_names={"ZZ": "Zedland"})
    assert isinstance(command, UpsertVendor) and command.remit_to is not None
    assert command.remit_to.country == "Zedland"


def test_only_what_matters_to_the_firm_changes_the_content_hash():
    first, again = (
        build(),
        build_upsert_vendor({**SUPPLIER, "updated-at": "later", "website": "x"}, settings(), "v2"),
    )
    assert isinstance(first, UpsertVendor) and isinstance(again, UpsertVendor)
    assert first.content_hash() == again.content_hash()
    moved = copy.deepcopy(SUPPLIER)
    moved["remit-to-addresses"][1]["city"] = "Spokane"
    changed = build(moved)
    assert isinstance(changed, UpsertVendor) and changed.content_hash() != first.content_hash()


def test_tin_types_follow_the_us_shapes():
    assert tin_type("91-1234567") == "EIN"
    assert tin_type("123-45-6789") == "SSN"
    assert tin_type("GB123456789") is None
    assert tin_type(None) is None


def test_a_supplier_without_id_or_name_parks():
    assert isinstance(build({"id": 5, "name": " "}), Parked)
