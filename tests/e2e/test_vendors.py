"""Vendor sync end to end through real processes: Coupa supplier → ingest → mapper → poster →
Deltek vendor firm, judged by reading the Deltek simulator's firms and write counters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from devstack.driver import MOVING, approve, create_invoice
from devstack.supervisor import SIM_CONNECTION
from services.cli.main import main
from tests.e2e.conftest import Rig, running_rig
from tests.support import eventually

pytestmark = pytest.mark.e2e

Supplier = dict[str, Any]
FRANCE = {"code": "FR", "name": "France"}
NOWHERE = {"code": "ZZ", "name": "Nowhere"}
SETTLED = """
SELECT (SELECT count(*) FROM coupa_inbox WHERE kind = 'supplier')
     = (SELECT count(*) FROM records WHERE kind = 'supplier')
   AND NOT EXISTS (SELECT 1 FROM records
                    WHERE kind = 'supplier' AND state IN ('received', 'mapped', 'posting'))
"""


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with running_rig(create_vendors=True) as started:
        yield started


def key(supplier: Supplier) -> str:
    return f"{SIM_CONNECTION}:supplier:{supplier['id']}"


async def coupa_admin(rig: Rig, method: str, path: str, body: dict[str, Any]) -> Supplier:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{rig.coupa}/_admin{path}", json=body) as answer,
    ):
        answer.raise_for_status()
        found: Supplier = await answer.json()
    return found


async def new_supplier(rig: Rig, **fields: Any) -> Supplier:
    return await coupa_admin(
        rig, "POST", "/suppliers", {"custom-fields": {"form-1099": True}, **fields}
    )


async def change_supplier(rig: Rig, supplier: Supplier, **fields: Any) -> Supplier:
    """An edit in Coupa; ``updated-at`` has whole seconds, so wait for the next one first (an
    edit within the same second would be the same version, as it is in Coupa)."""
    await asyncio.sleep(1.05)
    return await coupa_admin(rig, "PATCH", f"/suppliers/{supplier['id']}", fields)


async def deltek(rig: Rig, path: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(f"{rig.deltek}/_admin/{path}") as answer:
        return await answer.json()


async def firm_of(rig: Rig, supplier: Supplier) -> dict[str, Any]:
    client_id = await rig.fetchval(
        "SELECT client_id FROM posting_ledger WHERE job_id = $1", key(supplier)
    )
    [firm] = [f for f in await deltek(rig, "firms") if f["ClientID"] == client_id]
    return dict(firm)


async def synced(rig: Rig, supplier: Supplier, within: float = 30) -> dict[str, str]:
    """The state of this very version once it stopped moving (an older one may be done)."""

    async def state() -> str | None:
        found = await rig.fetchval(
            "SELECT state FROM records WHERE record_key = $1 AND version = $2",
            key(supplier),
            supplier["updated-at"],
        )
        return None if found is None else str(found)

    async def settled() -> bool:
        return await state() not in MOVING

    await eventually(settled, within=within, what=f"supplier {supplier['id']} synced")
    return {key(supplier): str(await state())}


async def parked_reason(rig: Rig, record_key: str) -> str:
    return str(
        await rig.fetchval(
            "SELECT parked_reason FROM records WHERE record_key = $1 ORDER BY id DESC LIMIT 1",
            record_key,
        )
    )


async def test_a_new_supplier_becomes_a_vendor_firm_and_follows_its_changes(rig):
    supplier = await new_supplier(rig)
    assert await synced(rig, supplier) == {key(supplier): "posted"}
    firm = await firm_of(rig, supplier)
    assert (firm["Name"], firm["VendorInd"], firm["Status"]) == (supplier["name"], "Y", "A")
    assert (firm["FedID"], firm["TypeOfTIN"]) == (supplier["tax-id"], "EIN")
    assert firm["Vendor"].isdigit()  # the tenant autonumbers: the number was read back
    [remit] = firm["CLAddress"]
    assert (remit["Payment"], remit["Address1"]) == (
        "true",
        supplier["remit-to-addresses"][0]["street1"],
    )
    [accounting] = firm["VEAccounting"]
    assert (accounting["PayTerms"], accounting["Req1099"]) == ("Date", "Y")  # "Net 30": 30 days

    moved = [{**supplier["remit-to-addresses"][0], "street1": "PO Box 8812", "city": "Boulder"}]
    await rig.faults("deltek")  # restart the simulator's counters
    supplier = await change_supplier(rig, supplier, **{"remit-to-addresses": moved})
    assert await synced(rig, supplier) == {key(supplier): "posted"}
    [remit] = (await firm_of(rig, supplier))["CLAddress"]
    assert (remit["Address1"], remit["City"]) == ("PO Box 8812", "Boulder")
    assert (await deltek(rig, "faults"))["writes"] == 1

    await rig.faults("deltek")
    supplier = await change_supplier(rig, supplier, website="https://elsewhere.example")
    assert await synced(rig, supplier) == {key(supplier): "posted"}
    assert (await deltek(rig, "faults"))["calls"] == 0  # nothing that Deltek holds changed


async def test_an_invoice_parked_for_a_missing_vendor_posts_once_the_supplier_is_synced(rig):
    remit = {"street1": "9 Rue Neuve", "city": "Lyon", "country": NOWHERE, "active": True}
    supplier = await new_supplier(rig, **{"remit-to-addresses": [remit]})
    await synced(rig, supplier)
    reason = await parked_reason(rig, key(supplier))
    assert "country ZZ" in reason and "no Deltek country name" in reason
    async with aiohttp.ClientSession() as http:
        target = await create_invoice(http, rig.coupa, supplier_id=supplier["id"])
        invoice = await approve(http, rig.coupa, target["id"])
    assert set((await rig.settle([invoice])).values()) == {"parked"}

    fixed = [{**remit, "country": {"code": "US", "name": "United States"}}]
    supplier = await change_supplier(rig, supplier, **{"remit-to-addresses": fixed})
    assert await synced(rig, supplier) == {key(supplier): "posted"}
    states = await rig.settle([invoice], within=45, through=("parked",))
    assert set(states.values()) == {"posted"}
    firm = await firm_of(rig, supplier)
    batches = await deltek(rig, "batches")
    vendors = [
        m["Vendor"]
        for b in batches
        for m in b["apMaster"]
        if m["Invoice"] == invoice["invoice-number"]
    ]
    assert vendors == [firm["Vendor"]]


async def test_an_existing_deltek_firm_is_linked_not_duplicated(rig):
    mapped = {
        row
        for row in await rig.fetchval(
            "SELECT array_agg(deltek_value) FROM mappings WHERE connection = $1", SIM_CONNECTION
        )
    }
    firms = await deltek(rig, "firms")
    # An inactive vendor: the simulators' alignment maps every active one to a Coupa supplier.
    existing = next(f for f in firms if f["VendorInd"] == "Y" and f["Vendor"] not in mapped)
    supplier = await new_supplier(rig, **{"tax-id": existing["FedID"]})
    assert await synced(rig, supplier) == {key(supplier): "posted"}
    assert len(await deltek(rig, "firms")) == len(firms)
    firm = await firm_of(rig, supplier)
    assert (firm["ClientID"], firm["Name"]) == (existing["ClientID"], supplier["name"])
    assert firm["Status"] == "A"  # active in Coupa, so active again in Deltek


async def test_deltek_refusals_park_the_supplier_in_words(rig):
    abroad = {"street1": "1 Rue de Rivoli", "city": "Paris", "country": FRANCE, "active": True}
    supplier = await new_supplier(rig, **{"remit-to-addresses": [abroad]})
    assert await synced(rig, supplier) == {key(supplier): "parked"}
    assert await parked_reason(rig, key(supplier)) == (
        "Deltek refused the remit-to address: Country Code France does not exist."
    )

    await set_mapping(rig, vendor_number_from_coupa=True)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{rig.deltek}/_admin/options", json={"autonumber": "no_override"}) as answer,
    ):
        assert answer.status == 200
    try:
        numbered = await new_supplier(rig)
        assert await synced(rig, numbered) == {key(numbered): "parked"}
        assert await parked_reason(rig, key(numbered)) == (
            "Deltek refused to create the vendor firm: Firm Number value ignored, autonumber "
            "enabled and override is not allowed."
        )
    finally:
        await set_mapping(rig, vendor_number_from_coupa=False)


async def set_mapping(rig: Rig, **values: Any) -> None:
    for name, value in values.items():
        await rig.fetchval(
            """UPDATE connections SET settings = jsonb_set(settings, ARRAY['mapping', $2],
                                                           to_jsonb($3::boolean))
                WHERE name = $1""",
            SIM_CONNECTION,
            name,
            value,
        )


async def test_the_full_sync_twice_writes_nothing_the_second_time(rig, monkeypatch):
    assert rig.stack.endpoints is not None
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", rig.database_url)
    monkeypatch.setenv("CONNECTOR_KAFKA_BOOTSTRAP", rig.stack.endpoints.kafka_bootstrap)
    monkeypatch.setenv("CONNECTOR_MASTER_KEY", rig.stack.master_key)

    async def everything_synced() -> bool:
        """Every supplier version ingest accepted is stored, and none is still moving."""
        return bool(await rig.fetchval(SETTLED))

    async def full_sync() -> None:
        assert await asyncio.to_thread(main, ["vendors", "sync", SIM_CONNECTION]) == 0
        await eventually(everything_synced, within=60, what="the full sync")

    await full_sync()
    await rig.faults("deltek")
    await full_sync()
    await asyncio.sleep(2)  # time for anything the second run set moving to reach Deltek
    assert (await deltek(rig, "faults"))["writes"] == 0
