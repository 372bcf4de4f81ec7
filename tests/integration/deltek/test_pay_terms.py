"""deltek-api.md §3.D: payment terms are a closed set (Next, PWP, Hold, Date) and Date needs a
PayDate; the simulator enforces it by default and accepts any text with ``pay_terms="any"``."""

from __future__ import annotations

import pytest

from simulators.deltek import SimOptions
from tests.integration.deltek.conftest import SMALL_SEED, Sim, SimFactory
from tests.integration.deltek.test_fidelity import active_vendor, voucher


async def enter(sim: Sim, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {await sim.token()}"}
    async with sim.http.post(f"{sim.api}/DataEntry/apControl", json=body, headers=headers) as r:
        answer = await r.json()
    return r.status, answer[0] if isinstance(answer, list) else answer


@pytest.mark.parametrize("terms", ["Next", "PWP", "Hold"])
async def test_the_closed_set_is_accepted(sim: Sim, terms: str) -> None:
    status, _ = await enter(sim, voucher(f"PT-{terms}", active_vendor(sim), PayTerms=terms))
    assert status == 201


async def test_a_coupa_term_is_refused_and_nothing_is_entered(sim: Sim) -> None:
    status, answer = await enter(sim, voucher("PT-NET", active_vendor(sim), PayTerms="Net30"))
    assert status == 400
    assert answer["Message"] == (
        "Invalid PayTerms 'Net30' for table apMaster. Valid values: Next, PWP, Hold, Date."
    )
    assert "PT-NET" not in sim.state.store.batches


async def test_date_needs_a_pay_date(sim: Sim) -> None:
    vendor = active_vendor(sim)
    status, answer = await enter(sim, voucher("PT-D1", vendor, PayTerms="Date"))
    assert (status, answer["Message"]) == (400, "Please provide a PayDate for table apMaster.")
    dated = voucher("PT-D2", vendor, PayTerms="Date", PayDate="2026-07-03T00:00:00.000")
    assert (await enter(sim, dated))[0] == 201


async def test_vendor_accounting_terms_are_checked_too(sim: Sim) -> None:
    headers = {"Authorization": f"Bearer {await sim.token()}"}
    firm = next(f for f in sim.state.store.firms.values() if f["Vendor"])
    update = {"VEAccounting": [{"PayTerms": "Net45"}]}
    url = f"{sim.api}/firm/{firm['ClientID']}"
    async with sim.http.put(url, json=update, headers=headers) as response:
        assert response.status == 400
    async with sim.http.put(
        url, json={"VEAccounting": [{"PayTerms": "Date"}]}, headers=headers
    ) as r:
        assert r.status == 200  # a vendor's default terms carry no date


async def test_the_option_accepts_any_text(start_sim: SimFactory) -> None:
    sim = await start_sim(SimOptions(seed=SMALL_SEED, pay_terms="any"))
    status, _ = await enter(sim, voucher("PT-ANY", active_vendor(sim), PayTerms="Net30"))
    assert status == 201
