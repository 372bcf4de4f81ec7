"""Vendor firm decisions: which firm, and only the keys that differ from what Deltek holds."""

from __future__ import annotations

from services.poster.firms import (
    Candidate,
    Conflict,
    accounting_change,
    address_change,
    decide,
    firm_changes,
    new_firm,
)
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
    added = address_change(REMIT, [])
    assert added is not None and added.CLAddressID is None
    assert (added.Address, added.Payment, added.Country) == ("Remit", "true", "United States")
    held = FirmAddress(CLAddressID="x1", Address="Remit", PrimaryInd="true", Payment="true",
                       Address1="100 Harbor Way", Address2="", City="Seattle", State="WA",
                       Zip="98101", Country="United States")  # fmt: skip
    assert address_change(REMIT, [held]) is None
    moved = address_change(REMIT.model_copy(update={"city": "Spokane"}), [held])
    assert moved is not None and moved.to_body() == {"CLAddressID": "x1", "City": "Spokane"}


def test_vendor_accounting_is_inserted_first_then_updated_only_where_it_differs():
    insert = accounting_change(COMMAND, "000001", None)
    assert insert is not None and insert[0] is True
    assert insert[1].Vendor == "000001" and insert[1].Req1099 == "Y"
    held = VendorAccounting(Vendor="000001", PayTerms="Next", PayTermsDesc="Net 30 days",
                            Req1099="N")  # fmt: skip
    update = accounting_change(COMMAND, "000001", held)
    assert update is not None and update[0] is False and update[1].to_body() == {"Req1099": "Y"}
    same = held.model_copy(update={"Req1099": "Y"})
    assert accounting_change(COMMAND, "000001", same) is None
    unmanaged = COMMAND.model_copy(update={"pay_terms": None, "req_1099": None})
    assert accounting_change(unmanaged, "000001", None) is None
