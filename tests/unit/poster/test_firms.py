"""Vendor firm decisions: which firm, and only the keys that differ from what Deltek holds;
fields set on creation only or never, as the connection says; and the field-by-field plan that
preview mode and ``vendors sync --dry-run`` show, from the same decisions."""

from __future__ import annotations

from typing import Any

from services.poster.firms import (
    Candidate,
    Conflict,
    accounting_change,
    address_change,
    decide,
    firm_changes,
    new_firm,
)
from services.poster.vendor_plan import FieldChange, changes_to, creation
from shared.deltek import Firm, FirmAddress, VendorAccounting
from shared.messages import UpsertVendor, VendorAddress

REMIT = VendorAddress(name="Remit", address1="100 Harbor Way", city="Seattle", state="WA",
                      zip="98101", country="United States")  # fmt: skip
COMMAND = UpsertVendor(
    job_id="acme:supplier:217", connection="acme", record_key="acme:supplier:217", coupa_id=217,
    coupa_version="v1", coupa_number="V-00217", name="Northwind", sort_name="Northwind",
    tax_id="91-1234567", tin_type="EIN", remit_to=REMIT, pay_terms="Next",
    pay_terms_description="Net 30 days", req_1099=True,
)  # fmt: skip
A, B = Candidate("a" * 32, "000001", "Northwind"), Candidate("b" * 32, "000002", "Northwind")


def test_the_first_rule_that_finds_decides_and_two_firms_are_a_conflict():
    assert decide([("supplier map", []), ("tax id", [A, A]), ("name", [B])]) == ("tax id", A)
    conflict = decide([("tax id", [A, B])])
    assert isinstance(conflict, Conflict)
    reason = conflict.reason("Coupa supplier V-00217 (Northwind)")
    assert "matches 2 Deltek firms by tax id" in reason
    assert A.client_id in reason and B.client_id in reason
    assert decide([("name", [])]) is None


def test_a_new_firm_is_a_vendor_and_sends_a_number_only_when_there_is_one():
    body = new_firm(COMMAND).to_body()
    assert body["VendorInd"] == "Y" and body["ClientInd"] == "N" and body["Status"] == "A"
    assert "Vendor" not in body and "Client" not in body
    numbered = new_firm(COMMAND.model_copy(update={"vendor_number": "V-00217"})).to_body()
    assert numbered["Vendor"] == numbered["Client"] == "V-00217"


def test_a_matching_firm_needs_no_change_and_a_vendor_number_is_never_changed():
    held = Firm(ClientID=A.client_id, Vendor="000001", Name="Northwind", SortName="Northwind",
                Status="A", VendorInd="Y", FedID="91-1234567", TypeOfTIN="EIN")  # fmt: skip
    assert firm_changes(COMMAND, held) == {}
    renamed = COMMAND.model_copy(update={"name": "Northwind LLC", "active": False,
                                         "vendor_number": "V-00217"})  # fmt: skip
    assert firm_changes(renamed, held) == {"Name": "Northwind LLC", "Status": "I"}


def test_the_remit_to_is_added_once_then_only_its_changed_keys_are_sent():
    added = address_change(COMMAND, [], creating=True)
    assert added is not None and added.CLAddressID is None
    assert (added.Address, added.Payment, added.Country) == ("Remit", "true", "United States")
    held = FirmAddress(CLAddressID="x1", Address="Remit", PrimaryInd="true", Payment="true",
                       Address1="100 Harbor Way", Address2="", City="Seattle", State="WA",
                       Zip="98101", Country="United States")  # fmt: skip
    assert address_change(COMMAND, [held], creating=False) is None
    moved_to = REMIT.model_copy(update={"city": "Spokane"})
    moved = address_change(
        COMMAND.model_copy(update={"remit_to": moved_to}), [held], creating=False
    )
    assert moved is not None and moved.to_body() == {"CLAddressID": "x1", "City": "Spokane"}


def test_vendor_accounting_is_inserted_first_then_updated_only_where_it_differs():
    insert = accounting_change(COMMAND, "000001", None, creating=True)
    assert insert is not None and insert[0] is True
    assert insert[1].Vendor == "000001" and insert[1].Req1099 == "Y"
    held = VendorAccounting(Vendor="000001", PayTerms="Next", PayTermsDesc="Net 30 days",
                            Req1099="N")  # fmt: skip
    update = accounting_change(COMMAND, "000001", held, creating=False)
    assert update is not None and update[0] is False and update[1].to_body() == {"Req1099": "Y"}
    same = held.model_copy(update={"Req1099": "Y"})
    assert accounting_change(COMMAND, "000001", same, creating=False) is None
    unmanaged = COMMAND.model_copy(update={"pay_terms": None, "req_1099": None})
    assert accounting_change(unmanaged, "000001", None, creating=True) is None


HELD = Firm(ClientID=A.client_id, Vendor="000001", Name="Northwind (Deltek)", SortName="Northwind",
            Status="A", VendorInd="Y", FedID="00-0000000", TypeOfTIN="EIN")  # fmt: skip
HELD_REMIT = FirmAddress(CLAddressID="x1", Address="Remit", PrimaryInd="true", Payment="true",
                         Address1="1 Old Rd", City="Tacoma", State="WA", Zip="98401",
                         Country="United States")  # fmt: skip
HELD_ACCOUNTING = VendorAccounting(Vendor="000001", PayTerms="PWP", PayTermsDesc="PWP",
                                   Req1099="N")  # fmt: skip
CREATE_ONLY = COMMAND.model_copy(
    update={"field_writes": dict.fromkeys(
        ("name", "tax_id", "remit_to", "pay_terms", "form_1099", "status"), "create"
    ), "active": False}
)  # fmt: skip


def test_a_field_set_on_creation_only_is_written_to_a_new_firm_and_never_changed_after():
    body = new_firm(CREATE_ONLY).to_body()
    assert (body["Name"], body["Status"], body["FedID"]) == ("Northwind", "I", "91-1234567")
    assert address_change(CREATE_ONLY, [], creating=True) is not None
    created = accounting_change(CREATE_ONLY, "000001", None, creating=True)
    assert created is not None and (created[1].PayTerms, created[1].Req1099) == ("Next", "Y")

    assert firm_changes(CREATE_ONLY, HELD) == {}  # name, status and tax id stay Deltek's
    assert address_change(CREATE_ONLY, [HELD_REMIT], creating=False) is None
    assert accounting_change(CREATE_ONLY, "000001", HELD_ACCOUNTING, creating=False) is None
    # A firm this sync created and has not finished writing still gets them.
    assert address_change(CREATE_ONLY, [HELD_REMIT], creating=True) is not None
    assert accounting_change(CREATE_ONLY, "000001", HELD_ACCOUNTING, creating=True) is not None


def test_a_field_never_written_is_left_to_deltek_even_on_a_new_firm():
    never = COMMAND.model_copy(update={"field_writes": {"tax_id": "never", "status": "never"}})
    body = new_firm(never).to_body()
    assert "FedID" not in body and "TypeOfTIN" not in body and "Status" not in body
    assert body["Name"] == "Northwind" and body["VendorInd"] == "Y"
    inactive = never.model_copy(update={"active": False})
    assert firm_changes(inactive, HELD) == {"Name": "Northwind"}
    one_kept = COMMAND.model_copy(update={"field_writes": {"pay_terms": "never"}})
    update = accounting_change(one_kept, "000001", HELD_ACCOUNTING, creating=True)
    assert update is not None and update[1].to_body() == {"Req1099": "Y"}


class FakeDeltek:
    """The two reads ``changes_to`` makes of an existing firm."""

    async def list_addresses(self, client_id: str) -> list[FirmAddress]:
        return [HELD_REMIT]

    async def get_vendor_accounting(self, client_id: str) -> VendorAccounting | None:
        return HELD_ACCOUNTING


async def test_the_plan_shows_field_by_field_exactly_what_the_decisions_write():
    deltek: Any = FakeDeltek()
    assert FieldChange("firm", "Status", "", "I") in creation(CREATE_ONLY)
    assert await changes_to(deltek, CREATE_ONLY, HELD) == ()
    changes = await changes_to(deltek, COMMAND, HELD)
    assert [(c.part, c.name, c.in_deltek, c.from_coupa) for c in changes] == [
        ("firm", "Name", "Northwind (Deltek)", "Northwind"),
        ("firm", "FedID", "00-0000000", "91-1234567"),
        ("remit-to", "Address1", "1 Old Rd", "100 Harbor Way"),
        ("remit-to", "City", "Tacoma", "Seattle"),
        ("remit-to", "Zip", "98401", "98101"),
        ("vendor accounting", "PayTerms", "PWP", "Next"),
        ("vendor accounting", "PayTermsDesc", "PWP", "Net 30 days"),
        ("vendor accounting", "Req1099", "N", "Y"),
    ]
