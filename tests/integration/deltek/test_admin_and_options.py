"""The simulator's admin API and the options that model unconfirmed Deltek behaviour."""

from __future__ import annotations

from simulators.deltek import SimOptions
from tests.integration.deltek.conftest import SMALL_SEED, Sim, SimFactory
from tests.integration.deltek.test_fidelity import active_vendor, voucher


async def _post(sim: Sim, path: str, body: object) -> tuple[int, object]:
    headers = {"Authorization": f"Bearer {await sim.token()}"}
    async with sim.http.post(f"{sim.api}{path}", json=body, headers=headers) as response:
        return response.status, await response.json()


async def test_autonumber_without_override_refuses_sent_numbers(start_sim: SimFactory) -> None:
    """§2.2: with autonumbering that blocks overrides, sending Client or Vendor fails."""
    sim = await start_sim(SimOptions(autonumber="no_override", seed=SMALL_SEED))
    status, body = await _post(sim, "/firm", {"Name": "X", "Vendor": "X1", "VendorInd": "Y"})
    assert status == 400
    assert body == {
        "Message": "Firm Number value ignored, autonumber enabled and override is not allowed."
    }
    status, _ = await _post(sim, "/firm", {"Name": "X", "VendorInd": "Y"})
    assert status == 201


async def test_duplicate_batch_appends_by_default_and_can_be_refused(sim: Sim) -> None:
    """§3.C (❓): whether a second POST of a Batch is refused is unconfirmed; the default appends
    so a blind retry shows up as a double booking, and "reject" can be switched on at run time."""
    vendor = active_vendor(sim)
    first = voucher("D-1", vendor)
    second = voucher("D-1", vendor, MasterPKey="D-1-m2")
    second["apDetail"] = [{**second["apDetail"][0], "MasterPKey": "D-1-m2", "PKey": "D-1-d2"}]  # type: ignore[index]
    assert (await _post(sim, "/DataEntry/apControl", first))[0] == 201
    assert (await _post(sim, "/DataEntry/apControl", second))[0] == 201
    async with sim.http.get(f"{sim.url}/_admin/batches") as response:
        [batch] = [b for b in await response.json() if b["Batch"] == "D-1"]
    assert len(batch["apMaster"]) == 2
    assert len(batch["apDetail"]) == 2
    async with sim.http.post(f"{sim.url}/_admin/options", json={"duplicate_batch": "reject"}):
        pass
    status, body = await _post(sim, "/DataEntry/apControl", first)
    assert status == 400
    assert body == {"Message": "Batch D-1 already exists."}


async def test_admin_reads_resets_and_validates(sim: Sim) -> None:
    """Issue: the admin API reads firms and batches, resets to the seed and refuses bad input."""
    seeded = len(sim.state.store.firms)
    await _post(sim, "/firm", {"Name": "Temporary"})
    async with sim.http.get(f"{sim.url}/_admin/firms") as response:
        firms = await response.json()
    assert len(firms) == seeded + 1
    assert all("CLAddress" in f and "VEAccounting" in f for f in firms)
    async with sim.http.post(f"{sim.url}/_admin/reset") as response:
        assert response.status == 200
    assert len(sim.state.store.firms) == seeded
    async with sim.http.get(f"{sim.url}/_admin/ledger") as response:
        assert len(await response.json()) == len(sim.state.store.ledger)
    async with sim.http.post(f"{sim.url}/_admin/options", json={"instance": "x"}) as response:
        assert response.status == 400
    async with sim.http.post(f"{sim.url}/_admin/faults", json={"bogus": 1}) as response:
        assert response.status == 400
