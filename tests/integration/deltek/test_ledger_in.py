"""The ``in`` operator on PSALedger: proven on a posted row before batched look-ups trust it
(deltek-api.md §5: one source documents ``in``; a tenant may ignore it, read the list as one
value, or refuse it), and a batched look-up that a tenant did not filter is no answer."""

from __future__ import annotations

from typing import Any

import pytest

from shared.deltek import LedgerBatchUnsureError
from simulators.deltek import SimOptions
from simulators.deltek.options import InOperator
from tests.integration.deltek.conftest import SMALL_SEED, SimFactory

pytestmark = pytest.mark.integration


def pairs(ledger: list[dict[str, Any]], count: int) -> list[tuple[str, str]]:
    """Distinct (vendor, invoice) pairs of the seeded ledger."""
    return list(dict.fromkeys((row["Vendor"], row["Invoice"]) for row in ledger))[:count]


async def test_a_tenant_honouring_in_answers_several_invoices_in_one_read(
    start_sim: SimFactory,
) -> None:
    sim = await start_sim(SimOptions(seed=SMALL_SEED))
    wanted = pairs(sim.state.store.ledger, 3)
    assert len(wanted) == 3
    async with sim.client() as vp:
        assert await vp.ledger_in_works("Invoice", list_size=25) is True
        before = sim.faults.calls
        found = await vp.find_posted_invoices([*wanted, ("NOSUCH", "NONE")], column="Invoice")
        assert sim.faults.calls == before + 1
    assert set(found) == set(wanted)
    for (vendor, invoice), rows in found.items():
        expected = [
            r for r in sim.state.store.ledger if (r["Vendor"], r["Invoice"]) == (vendor, invoice)
        ]
        assert len(rows) == len(expected)


@pytest.mark.parametrize("reading", ["literal", "refused", "first_only", "last_only", "capped"])
async def test_a_tenant_not_honouring_in_fails_the_proof(
    start_sim: SimFactory, reading: InOperator
) -> None:
    sim = await start_sim(SimOptions(seed=SMALL_SEED, in_operator=reading))
    async with sim.client() as vp:
        assert await vp.ledger_in_works("Invoice", list_size=25) is False


async def test_a_batched_answer_filling_a_page_is_not_trusted(start_sim: SimFactory) -> None:
    """A page cap the tenant applies silently would drop rows: a full page is no answer."""
    sim = await start_sim(SimOptions(seed=SMALL_SEED))
    wanted = pairs(sim.state.store.ledger, 3)
    async with sim.client(page_size=1) as vp:
        with pytest.raises(LedgerBatchUnsureError, match="fill a page"):
            await vp.find_posted_invoices(wanted, column="Invoice")


async def test_a_tenant_ignoring_in_fails_the_proof_and_the_read(
    start_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await start_sim(SimOptions(seed=SMALL_SEED))
    wanted = pairs(sim.state.store.ledger, 2)

    def ignoring(rows: list[Any], terms: list[Any], columns: Any = None) -> list[Any]:
        return rows

    monkeypatch.setattr("simulators.deltek.routes.apply_filter", ignoring)
    async with sim.client() as vp:
        assert await vp.ledger_in_works("Invoice", list_size=25) is False
        with pytest.raises(LedgerBatchUnsureError, match="outside an 'in' filter") as caught:
            await vp.find_posted_invoices(wanted, column="Invoice")
    assert caught.value.ignored


async def test_an_empty_ledger_proves_nothing(start_sim: SimFactory) -> None:
    sim = await start_sim(SimOptions(seed=SMALL_SEED))
    sim.state.store.ledger.clear()
    async with sim.client() as vp:
        assert await vp.ledger_in_works("Invoice", list_size=25) is None
