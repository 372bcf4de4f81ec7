"""Supplier → Deltek vendor by every path, and the project, phase and task checks."""

from __future__ import annotations

import pytest

from services.mapper.rules.outcome import Mapped, Parked
from services.mapper.rules.resolve import map_invoice
from services.mapper.rules.vendor import INACTIVE_VENDOR, resolve_vendor
from shared.reference.view import Vendor
from tests.unit.mapper.builders import (
    NORTHWIND,
    NORTHWIND_RECORD,
    SETTINGS,
    VENDORS,
    account,
    event,
    invoice,
    line,
    reference,
)

UNNUMBERED = {"id": 217, "name": "Northwind Survey Services LLC", "number": "V-99999"}


def vendor_of(supplier=NORTHWIND, record=NORTHWIND_RECORD, **ref_kw):
    return resolve_vendor(supplier, record, reference(**ref_kw))


@pytest.mark.parametrize("key", ["217", "V-00217"])
def test_an_explicit_map_by_coupa_id_or_number_wins(key):
    found = vendor_of(maps={"supplier": {key: "SUMMIT0001"}})
    assert isinstance(found, Vendor) and found.vendor == "SUMMIT0001"


def test_an_explicit_map_may_name_the_firm_by_client_id():
    found = vendor_of(maps={"supplier": {"217": "c1"}})
    assert isinstance(found, Vendor) and found.vendor == "SUMMIT0001"


def test_an_explicit_map_to_a_vendor_deltek_does_not_have_parks():
    problem = vendor_of(maps={"supplier": {"217": "GONE0001"}})
    assert problem.reason == (
        "Coupa supplier V-00217 (Northwind Survey Services LLC) is mapped to Deltek vendor "
        "GONE0001, which is not in the Deltek vendor list"
    )


def test_then_the_coupa_number_as_deltek_vendor_number():
    found = vendor_of()
    assert isinstance(found, Vendor) and found.client_id == "c3"


def test_then_the_tax_id_of_the_stored_supplier_record_ignoring_punctuation():
    record = {**NORTHWIND_RECORD, "tax-id": "911234567"}
    found = vendor_of(UNNUMBERED, record)
    assert isinstance(found, Vendor) and found.vendor == "NWS0001"


def test_then_the_exact_name_ignoring_case_and_spacing():
    supplier = {"id": 5, "number": "V-5", "name": "  summit   SURVEY llc "}
    found = vendor_of(supplier, None)
    assert isinstance(found, Vendor) and found.vendor == "SUMMIT0001"


def test_an_ambiguous_name_parks_but_one_active_among_several_is_taken():
    twins = [*VENDORS, Vendor("c9", "SUMMIT0002", "Summit Survey LLC", "A", None)]
    supplier = {"id": 5, "number": "V-5", "name": "Summit Survey LLC"}
    problem = vendor_of(supplier, None, vendors=twins)
    assert problem.reason == (
        "Coupa supplier V-5 (Summit Survey LLC) matches 2 Deltek vendors by name "
        "(SUMMIT0001 Summit Survey LLC, SUMMIT0002 Summit Survey LLC); map it explicitly"
    )
    retired_twin = [*VENDORS, Vendor("c9", "SUMMIT0002", "Summit Survey LLC", "I", None)]
    found = vendor_of(supplier, None, vendors=retired_twin)
    assert isinstance(found, Vendor) and found.vendor == "SUMMIT0001"


def test_an_inactive_vendor_or_a_firm_without_vendor_number_parks():
    problem = vendor_of(maps={"supplier": {"217": "OLD0001"}})
    assert problem.reason == (
        "Deltek vendor OLD0001 (Retired Vendor Inc.) for Coupa supplier V-00217 "
        "(Northwind Survey Services LLC) is inactive"
    )
    # Its own kind: the supplier has a vendor, to reactivate, where "supplier" lacks one.
    assert problem.waiting_for == {
        "kind": INACTIVE_VENDOR,
        "coupa_value": "217",
        "label": "Coupa supplier V-00217 (Northwind Survey Services LLC)",
    }
    problem = vendor_of(maps={"supplier": {"217": "c5"}})
    assert "is not set up as a vendor (no vendor number)" in problem.reason
    assert problem.waiting_for is not None and problem.waiting_for["kind"] == "supplier"


def test_no_vendor_at_all_parks_waiting_for_the_supplier():
    result = map_invoice(
        event(invoice([line(1, "1.00")], supplier=UNNUMBERED)),
        SETTINGS,
        reference(vendors=[]),
        None,
    )
    assert isinstance(result, Parked)
    assert result.reasons == (
        "Coupa supplier V-99999 (Northwind Survey Services LLC) has no Deltek vendor",
    )
    assert result.waiting_for == (
        {
            "kind": "supplier",
            "coupa_value": "217",
            "label": "Coupa supplier V-99999 (Northwind Survey Services LLC)",
        },
    )


def coded(acct, **ref_kw):
    result = map_invoice(
        event(invoice([line(1, "10.00", acct)])), SETTINGS, reference(**ref_kw), NORTHWIND_RECORD
    )
    if isinstance(result, Mapped):
        first = result.command.lines[0]
        return first.wbs1, first.wbs2, first.wbs3
    return result.reason


@pytest.mark.parametrize(
    ("acct", "expected"),
    [
        (account("1001", "5200", "200"), ("1001", "200", None)),
        (account("1002", "5200", "100"), ("1002", None, None)),  # no phases: segment ignored
        (account("1006", "6200", None), ("1006", None, None)),  # overhead project
        (account(None, "6200", None), (None, None, None)),  # GL only
        (
            account("1007", "5200", "100"),
            "Deltek phase 1007/100 (Project 1007) has tasks in "
            "Deltek; Coupa account 1007-5200-100 names none (line 1)",
        ),
        (account("1004"), "Deltek project 1004 (Project 1004) is inactive (closed) (line 1)"),
        (account("1003"), "Deltek project 1003 (Project 1003) is dormant (line 1)"),
        (
            account("1005"),
            "Deltek project 1005 (Project 1005) is promotional and does not take "
            "vendor invoice costs (line 1)",
        ),
        (
            account("1001", "5200", None),
            "Deltek project 1001 (Project 1001) has phases in "
            "Deltek; Coupa account 1001-5200 names none (segment-3) (line 1)",
        ),
        (
            account("1001", "5200", "900"),
            "Deltek project 1001 (Project 1001) has no phase 900 in Deltek (line 1)",
        ),
        (
            account("1008", "5200", "100"),
            "Deltek phase 1008/100 (Project 1008) is inactive (closed) (line 1)",
        ),
        (account("7777"), "Coupa project code 7777 has no Deltek project (line 1)"),
    ],
)
def test_project_checks(acct, expected):
    assert coded(acct) == expected


def test_a_task_segment_reaches_wbs3_and_project_maps_give_wbs1():
    settings = SETTINGS.model_copy(
        update={"mapping": SETTINGS.mapping.model_copy(update={"task_segment": 4})}
    )
    acct = account("1007", "5200", "100")
    acct["segment-4"] = "01"
    result = map_invoice(
        event(invoice([line(1, "10.00", acct)])), settings, reference(), NORTHWIND_RECORD
    )
    assert isinstance(result, Mapped)
    assert (result.command.lines[0].wbs2, result.command.lines[0].wbs3) == ("100", "01")
    assert coded(account("P-17"), maps={"project": {"P-17": "1002"}}) == ("1002", None, None)
    assert coded(account("P-17"), maps={"project": {"P-17": "9999"}}) == (
        "Coupa project code P-17 is mapped to Deltek project 9999, which Deltek does not have "
        "(line 1)"
    )
