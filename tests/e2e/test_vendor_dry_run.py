"""``connector vendors sync NAME --dry-run`` against the whole stack (issue 10).

The dry run prints what the full vendor sync would write, supplier by supplier and field by
field, and writes nothing anywhere: the simulators' request logs show no write to Coupa or
Deltek, and the connector's tables (inbox, records, audit trail, ledger, maps) are unchanged.
The real sync then writes what it said, so a second dry run has nothing left to create, and
only firms several Coupa suppliers share (as the seed's alignment maps them) still differ. On
the way, an inactive Coupa supplier leaves its active Deltek firm active.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.supervisor import SIM_CONNECTION
from services.cli.main import main
from tests.e2e.conftest import Rig, running_rig
from tests.e2e.test_go_live import writes
from tests.e2e.test_vendors import (
    NOWHERE,
    SETTLED,
    Supplier,
    change_supplier,
    deltek,
    firm_of,
    key,
    new_supplier,
    set_mapping,
    synced,
)
from tests.support import eventually

pytestmark = pytest.mark.e2e

SUMMARY = re.compile(
    r"^vendors sync --dry-run: (\d+) would be created, (\d+) updated, (\d+) unchanged, "
    r"(\d+) parked$"
)
UPDATED = re.compile(r"^V-\d+ .*: would be updated \(Deltek firm \w+/(\w+)\)$")
SHARED_VENDORS = """
SELECT array_agg(deltek_value) FROM (
    SELECT deltek_value FROM mappings WHERE connection = $1 AND kind = 'supplier'
     GROUP BY deltek_value HAVING count(*) > 1) shared
"""
HEAD = rf"^{SIM_CONNECTION}: (\d+) Coupa suppliers read; nothing was written$"
TABLES = ("coupa_inbox", "records", "audit_events", "posting_ledger", "mappings")


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with running_rig(create_vendors=True) as started:
        yield started


async def everything(rig: Rig) -> dict[str, Any]:
    """Every write either simulator saw, and the row count of each table the connector writes."""
    rows = {table: await rig.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}
    return {"coupa": await writes(rig.coupa), "deltek": await writes(rig.deltek), **rows}


async def settled(rig: Rig) -> None:
    """Every supplier version ingest accepted is stored and none is on its way to Deltek."""

    async def done() -> bool:
        return bool(await rig.fetchval(SETTLED))

    await eventually(done, within=60, what="vendor sync settled")


async def received(rig: Rig, supplier: Supplier) -> None:
    async def stored() -> bool:
        return bool(
            await rig.fetchval(
                "SELECT count(*) FROM records WHERE record_key = $1 AND version = $2",
                key(supplier),
                supplier["updated-at"],
            )
        )

    await eventually(stored, what=f"supplier {supplier['id']} stored")


async def dry_run(capsys: pytest.CaptureFixture[str]) -> tuple[list[str], tuple[int, ...]]:
    """The dry run's output lines and its summary counts (created, updated, unchanged, parked)."""
    capsys.readouterr()
    argv = ["vendors", "sync", SIM_CONNECTION, "--dry-run"]
    assert await asyncio.to_thread(main, argv) == 0
    lines = capsys.readouterr().out.rstrip().splitlines()
    found = SUMMARY.match(lines[-1])
    assert found is not None, lines[-1]
    return lines, tuple(int(n) for n in found.groups())


async def test_the_dry_run_shows_the_writes_makes_none_and_the_sync_then_makes_them(
    rig, monkeypatch, capsys
):
    assert rig.stack.endpoints is not None
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", rig.database_url)
    monkeypatch.setenv("CONNECTOR_KAFKA_BOOTSTRAP", rig.stack.endpoints.kafka_bootstrap)
    monkeypatch.setenv("CONNECTOR_MASTER_KEY", rig.stack.master_key)
    monkeypatch.setenv("COLUMNS", "160")  # rich's tables, unwrapped for the assertions

    # An active firm whose supplier went inactive in Coupa stays active (the default).
    retired = await new_supplier(rig)
    assert await synced(rig, retired) == {key(retired): "posted"}
    retired = await change_supplier(rig, retired, status="inactive")
    assert await synced(rig, retired) == {key(retired): "posted"}
    assert (await firm_of(rig, retired))["Status"] == "A"
    # A supplier the mapper parks: an unknown country.
    remit = {"street1": "1 Nowhere Sq", "city": "Nowhere", "country": NOWHERE, "active": True}
    stranger = await new_supplier(rig, **{"remit-to-addresses": [remit]})
    assert await synced(rig, stranger) == {key(stranger): "parked"}
    await settled(rig)
    # A supplier received while vendor sync was off: only a full sync sends it to Deltek.
    await set_mapping(rig, create_vendors=False)
    try:
        newcomer = await new_supplier(rig)
        await received(rig, newcomer)
        await asyncio.sleep(0.5)  # the mapper read the setting right after storing it
    finally:
        await set_mapping(rig, create_vendors=True)

    before = await everything(rig)
    lines, (created, updated, unchanged, parked) = await dry_run(capsys)
    assert await everything(rig) == before

    head = re.match(HEAD, lines[0])
    assert head is not None, lines[0]
    assert created + updated + unchanged + parked == int(head.group(1))
    assert created >= 1 and parked >= 1
    out = "\n".join(lines)
    assert f"{stranger['number']} {stranger['name']}: would park\n  " in out
    assert "country ZZ" in out
    assert retired["number"] not in out  # unchanged: never set inactive
    start = lines.index(f"{newcomer['number']} {newcomer['name']}: would be created")
    table = "\n".join(lines[start : start + 20])
    for part, name, value in [
        ("firm", "Name", newcomer["name"]),
        ("firm", "Status", "A"),
        ("firm", "VendorInd", "Y"),
        ("firm", "FedID", newcomer["tax-id"]),
        ("remit-to", "Payment", "true"),
        ("vendor accounting", "PayTerms", "Date"),
    ]:
        assert re.search(rf"│ {part}\s+│ {name}\s+│\s+│ {re.escape(value)}\s+│", table), table

    # The real sync writes what the dry run showed: afterwards nothing is left to create, and
    # only firms that several Coupa suppliers share (the seed's alignment maps them so) differ.
    firms = len(await deltek(rig, "firms"))
    assert await asyncio.to_thread(main, ["vendors", "sync", SIM_CONNECTION]) == 0
    assert await synced(rig, newcomer) == {key(newcomer): "posted"}
    await settled(rig)
    again, (created_now, updated_now, _, _) = await dry_run(capsys)
    assert created_now == 0
    assert len(await deltek(rig, "firms")) == firms + created
    updates = [m.group(1) for line in again if (m := UPDATED.match(line))]
    assert len(updates) == updated_now
    shared = await rig.fetchval(SHARED_VENDORS, SIM_CONNECTION)
    assert set(updates) <= set(shared or ()), (updates, shared)
    assert (await firm_of(rig, retired))["Status"] == "A"
