"""The poster's vendor path against the Deltek simulator: create, link, update only what differs,
nothing at all for an unchanged supplier, and Deltek's documented refusals parked in words."""

from __future__ import annotations

from typing import Any

import pytest

from services.mapper.rules.supplier import field_writes
from services.poster.handler import PostHandler
from shared.connection_settings import MappingSettings, VendorFields
from shared.db.pool import Pool
from shared.kafka.envelope import Envelope
from shared.kafka.topics import Topics
from shared.messages import UPSERT_VENDOR, UpsertVendor, VendorAddress
from tests.integration.poster.conftest import CONNECTION, HandlerFactory, coords_of

REMIT = VendorAddress(name="Remit", address1="100 Harbor Way", city="Seattle", state="WA",
                      zip="98101", country="United States")  # fmt: skip


def vendor_command(coupa_id: int = 217, **changes: Any) -> UpsertVendor:
    values: dict[str, Any] = {
        "job_id": f"{CONNECTION}:supplier:{coupa_id}", "connection": CONNECTION,
        "record_key": f"{CONNECTION}:supplier:{coupa_id}", "coupa_id": coupa_id,
        "coupa_version": "2026-06-05T10:00:00Z", "coupa_number": f"V-{coupa_id:05d}",
        "name": f"Northwind Survey {coupa_id}", "sort_name": f"Northwind Survey {coupa_id}",
        "tax_id": f"91-{coupa_id:07d}", "tin_type": "EIN", "remit_to": REMIT,
        "pay_terms": "Next", "pay_terms_description": "Net 30 days", "req_1099": True,
    }  # fmt: skip
    return UpsertVendor(**{**values, **changes})


async def send(handler: PostHandler, topics: Topics, command: UpsertVendor) -> None:
    envelope = Envelope(
        schema=UPSERT_VENDOR,
        connection=CONNECTION,
        key=command.record_key,
        source="webhook",
        payload=command.model_dump(mode="json"),
    )
    await handler(envelope, coords_of(topics))


def firms_named(sim, name: str) -> list[dict[str, Any]]:
    return [f for f in sim.state.store.firms.values() if f["Name"] == name]


async def ledger_row(pool: Pool, command: UpsertVendor) -> Any:
    return await pool.fetchrow(
        "SELECT state, client_id, vendor, last_error FROM posting_ledger WHERE job_id = $1",
        command.job_id,
    )


async def test_a_new_supplier_becomes_one_autonumbered_vendor_firm_then_costs_no_call(
    make_handler: HandlerFactory, sim, pool: Pool, topics: Topics
):
    handler, command = make_handler(), vendor_command()
    await send(handler, topics, command)
    [firm] = firms_named(sim, command.name)
    store = sim.state.store
    assert (firm["VendorInd"], firm["FedID"], firm["TypeOfTIN"]) == ("Y", "91-0000217", "EIN")
    assert firm["Vendor"].isdigit() and len(firm["Vendor"]) == 6  # autonumbered, zero-padded
    [address] = store.addresses[firm["ClientID"]]
    assert (address["Payment"], address["Address1"], address["Country"]) == (
        "true", "100 Harbor Way", "United States",
    )  # fmt: skip
    accounting = store.ve_accounting[firm["ClientID"]]
    assert (accounting["PayTerms"], accounting["Req1099"]) == ("Next", "Y")
    row = await ledger_row(pool, command)
    assert (row["state"], row["client_id"], row["vendor"]) == (
        "posted", firm["ClientID"], firm["Vendor"],
    )  # fmt: skip
    mapped = await pool.fetchrow(
        "SELECT deltek_value, source FROM mappings WHERE connection = $1 AND coupa_value = $2",
        CONNECTION,
        "V-00217",
    )
    assert mapped is not None
    assert (mapped["deltek_value"], mapped["source"]) == (firm["Vendor"], "vendor_sync")
    cached = await pool.fetchval(
        "SELECT vendor FROM deltek_vendors WHERE connection = $1 AND client_id = $2",
        CONNECTION,
        firm["ClientID"],
    )
    assert cached == firm["Vendor"]

    calls = sim.faults.calls
    await send(handler, topics, command.model_copy(update={"coupa_version": "later"}))
    assert sim.faults.calls == calls  # unchanged: not even a read


@pytest.mark.parametrize("rows", ["with_firm", "on_insert"])
async def test_vendor_accounting_is_read_before_writing_even_for_a_firm_just_created(
    make_handler: HandlerFactory, sim, topics: Topics, rows: str
):
    """deltek-api.md §3.D: saving a vendor firm may create its vendor accounting row, and an
    insert over it answers a 500; reading first, the poster updates that row, and inserts only
    where there is none (§2.1, §2.3)."""
    sim.state.options = sim.state.options.model_copy(update={"vendor_accounting": rows})
    command = vendor_command(225)
    await send(make_handler(), topics, command)
    [firm] = firms_named(sim, command.name)
    accounting = sim.state.store.ve_accounting[firm["ClientID"]]
    assert (accounting["Vendor"], accounting["PayTerms"], accounting["Req1099"]) == (
        firm["Vendor"], "Next", "Y",
    )  # fmt: skip
    assert sim.sleeps == []  # no 500 was answered and retried on the way
    assert sim.faults.writes == 1 + 3  # token; firm, address, then one accounting write


async def test_a_changed_remit_to_writes_only_the_address(
    make_handler: HandlerFactory, sim, topics: Topics
):
    handler, command = make_handler(), vendor_command(218)
    await send(handler, topics, command)
    await sim.set_faults()  # restart the counters
    moved = REMIT.model_copy(update={"address1": "PO Box 8812", "city": "Denver"})
    await send(handler, topics, command.model_copy(update={"remit_to": moved}))
    assert sim.faults.writes == 1
    [firm] = firms_named(sim, command.name)
    [address] = sim.state.store.addresses[firm["ClientID"]]
    assert (address["Address1"], address["City"]) == ("PO Box 8812", "Denver")


async def test_an_existing_deltek_firm_is_linked_by_tax_id_not_duplicated(
    make_handler: HandlerFactory, sim, pool: Pool, topics: Topics
):
    store = sim.state.store
    seeded = next(f for f in store.firms.values() if f["VendorInd"] == "Y")
    before = len(store.firms)
    command = vendor_command(219, tax_id=seeded["FedID"], name="Renamed In Coupa",
                             sort_name="Renamed In Coupa")  # fmt: skip
    await send(make_handler(), topics, command)
    assert len(store.firms) == before
    assert seeded["Name"] == "Renamed In Coupa"
    row = await ledger_row(pool, command)
    assert (row["client_id"], row["vendor"]) == (seeded["ClientID"], seeded["Vendor"])


async def test_deltek_refusals_park_the_supplier_with_a_clear_reason(
    make_handler: HandlerFactory, sim, pool: Pool, topics: Topics
):
    handler = make_handler()
    client_firm = sim.state.store.create_firm(
        {"Name": "City of Riverside Annex", "Client": "C00131", "ClientInd": "Y"},
        allow_override=True,
        user="T",
        accounting_with_vendor=False,
    )
    duplicate = vendor_command(220, vendor_number=client_firm["Client"])
    await send(handler, topics, duplicate)
    row = await ledger_row(pool, duplicate)
    assert row["state"] == "parked"
    assert row["last_error"] == (
        "Deltek refused to create the vendor firm: "
        f"Firm Number already exists: {client_firm['Client']}."
    )

    abroad = vendor_command(221, remit_to=REMIT.model_copy(update={"country": "France"}))
    await send(handler, topics, abroad)
    row = await ledger_row(pool, abroad)
    assert row["last_error"] == (
        "Deltek refused the remit-to address: Country Code France does not exist."
    )


async def test_an_autonumbering_tenant_refuses_sent_numbers_and_numbers_the_firm_itself(
    make_handler: HandlerFactory, sim, pool: Pool, topics: Topics
):
    sim.state.options = sim.state.options.model_copy(update={"autonumber": "no_override"})
    handler = make_handler()
    numbered = vendor_command(222, vendor_number="V-00222")
    await send(handler, topics, numbered)
    row = await ledger_row(pool, numbered)
    assert "autonumber enabled and override is not allowed" in row["last_error"]
    plain = vendor_command(223)
    await send(handler, topics, plain)
    [firm] = firms_named(sim, plain.name)
    assert (await ledger_row(pool, plain))["vendor"] == firm["Vendor"]


async def test_two_matching_firms_park_with_both_shown(
    make_handler: HandlerFactory, sim, pool: Pool, topics: Topics
):
    store = sim.state.store
    twins = [
        store.create_firm(
            {"Name": "Twin Survey", "VendorInd": "Y"},
            allow_override=True,
            user="T",
            accounting_with_vendor=True,
        )
        for _ in range(2)
    ]
    command = vendor_command(224, name="Twin Survey", sort_name="Twin Survey", tax_id=None)
    await send(make_handler(), topics, command)
    row = await ledger_row(pool, command)
    assert row["state"] == "parked" and "matches 2 Deltek firms by name" in row["last_error"]
    assert all(t["ClientID"] in row["last_error"] for t in twins)


def inactive(coupa_id: int, mapping: MappingSettings, **changes: Any) -> UpsertVendor:
    """The command the mapper builds for an inactive supplier under ``mapping``."""
    writes = field_writes(mapping, active=False)
    return vendor_command(coupa_id, active=False, field_writes=writes, **changes)


async def cached_status(pool: Pool, client_id: str) -> str:
    return str(
        await pool.fetchval(
            "SELECT status FROM deltek_vendors WHERE connection = $1 AND client_id = $2",
            CONNECTION,
            client_id,
        )
    )


async def test_an_inactive_supplier_never_deactivates_its_firm_unless_the_connection_says_so(
    make_handler: HandlerFactory, sim, pool: Pool, topics: Topics
):
    handler, command = make_handler(), vendor_command(226)
    await send(handler, topics, command)
    [firm] = firms_named(sim, command.name)
    later = {"coupa_version": "2026-06-06T10:00:00Z"}
    await send(handler, topics, inactive(226, MappingSettings(), **later))
    assert firm["Status"] == "A"
    assert await cached_status(pool, firm["ClientID"]) == "A"  # the cache says what Deltek holds

    allowed = MappingSettings(deactivate_vendors=True)
    await send(handler, topics, inactive(226, allowed, coupa_version="2026-06-07T10:00:00Z"))
    assert firm["Status"] == "I"
    assert await cached_status(pool, firm["ClientID"]) == "I"


async def test_a_firm_for_an_inactive_supplier_is_created_inactive(
    make_handler: HandlerFactory, sim, topics: Topics
):
    command = inactive(227, MappingSettings())
    await send(make_handler(), topics, command)
    [firm] = firms_named(sim, command.name)
    assert firm["Status"] == "I"


async def test_fields_set_on_creation_only_are_never_changed_on_a_firm_after(
    make_handler: HandlerFactory, sim, pool: Pool, topics: Topics
):
    create_only = VendorFields(name="create", remit_to="create", pay_terms="create").not_synced()
    handler = make_handler()
    command = vendor_command(228, field_writes=create_only)
    await send(handler, topics, command)
    [firm] = firms_named(sim, command.name)
    store = sim.state.store
    assert store.addresses[firm["ClientID"]][0]["City"] == "Seattle"
    assert store.ve_accounting[firm["ClientID"]]["PayTerms"] == "Next"

    await sim.set_faults()  # restart the counters
    changed = command.model_copy(
        update={
            "coupa_version": "later",
            "name": "Northwind Renamed",
            "sort_name": "Northwind Renamed",
            "remit_to": REMIT.model_copy(update={"city": "Denver"}),
            "pay_terms": "PWP",
            "req_1099": False,
        }
    )
    await send(handler, topics, changed)
    assert firm["Name"] == command.name
    [address] = store.addresses[firm["ClientID"]]
    assert address["City"] == "Seattle"
    accounting = store.ve_accounting[firm["ClientID"]]
    assert (accounting["PayTerms"], accounting["Req1099"]) == ("Next", "N")  # 1099 is synced
    assert sim.faults.writes == 1


async def test_a_firm_created_before_a_refusal_still_gets_its_creation_only_fields(
    make_handler: HandlerFactory, sim, pool: Pool, topics: Topics
):
    """The firm is created, then Deltek refuses its remit-to: the next version finds the firm
    through the ledger and writes the remit-to, though it is written on creation only."""
    handler = make_handler()
    abroad = REMIT.model_copy(update={"country": "France"})
    command = vendor_command(229, remit_to=abroad, field_writes={"remit_to": "create"})
    await send(handler, topics, command)
    assert (await ledger_row(pool, command))["state"] == "parked"
    [firm] = firms_named(sim, command.name)
    assert sim.state.store.addresses[firm["ClientID"]] == []

    await send(
        handler, topics, command.model_copy(update={"coupa_version": "l", "remit_to": REMIT})
    )
    assert len(firms_named(sim, command.name)) == 1
    [address] = sim.state.store.addresses[firm["ClientID"]]
    assert (address["Country"], address["Payment"]) == ("United States", "true")
    row = await ledger_row(pool, command)
    assert (row["state"], row["client_id"], row["vendor"]) == (
        "posted", firm["ClientID"], firm["Vendor"],
    )  # fmt: skip


async def test_preview_mode_records_exactly_the_writes_the_live_run_then_makes(
    make_handler: HandlerFactory, sim, pool: Pool, topics: Topics, connections
):
    store = sim.state.store
    seeded = next(f for f in store.firms.values() if f["VendorInd"] == "Y" and f["Status"] == "A")
    command = inactive(
        230,
        MappingSettings(vendor_fields=VendorFields(name="create")),
        tax_id=seeded["FedID"],
        name="Renamed In Coupa",
        sort_name="Renamed In Coupa",
        pay_terms="PWP",
        pay_terms_description="Pay when paid",
    )
    connections.mode = "preview"
    await send(make_handler(), topics, command)
    details = await pool.fetchval(
        "SELECT details FROM audit_events WHERE record_key = $1 AND event = 'would_sync'",
        command.record_key,
    )
    planned = {(c["part"], c["name"]): c["from_coupa"] for c in details["changes"]}
    assert ("firm", "Name") not in planned and ("firm", "Status") not in planned
    assert planned[("vendor accounting", "PayTerms")] == "PWP"
    assert seeded["Name"] != "Renamed In Coupa" and seeded["Status"] == "A"

    connections.mode = "live"
    await send(make_handler(), topics, command)
    accounting = store.ve_accounting[seeded["ClientID"]]
    [remit] = [a for a in store.addresses[seeded["ClientID"]] if a["Address"] == "Remit"]
    parts = {"firm": seeded, "remit-to": remit, "vendor accounting": accounting}
    assert {(part, key): str(parts[part][key]) for part, key in planned} == planned
    assert seeded["Name"] != "Renamed In Coupa" and seeded["Status"] == "A"
