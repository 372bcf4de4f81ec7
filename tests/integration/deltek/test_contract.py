"""The real Deltek client against the simulator over loopback HTTP, under every fault kind."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from shared.deltek import (
    ApBatch,
    ApDetail,
    ApMaster,
    DeltekClient,
    FieldMissingError,
    FilterHash,
    Firm,
    FirmAddress,
    NeedsAttentionError,
    OutcomeUnknownError,
    PostingError,
    VendorAccounting,
)
from shared.http import FatalError, RetriableError
from simulators.deltek import Credentials, SimOptions
from simulators.deltek.options import LedgerInvoiceKey
from tests.integration.deltek.conftest import SMALL_SEED, Sim, SimFactory
from tests.integration.deltek.test_fidelity import active_vendor

PERIOD = 202606


def batch(name: str, vendor: str, amount: str = "1850.00") -> ApBatch:
    master = ApMaster(
        MasterPKey=f"{name}-m", Vendor=vendor, Invoice=f"{name}-INV", InvoiceDate=date(2026, 6, 3),
        TransDate=date(2026, 6, 5), LiabCode="Trade", BankCode="OPER", PayTerms="Next",
        Address="Remit",
    )  # fmt: skip
    lines = [
        ApDetail(MasterPKey=f"{name}-m", PKey=f"{name}-1", Seq=1, Amount=Decimal(amount),
                 Account="642.00", WBS1=" ", WBS2=" ", WBS3=" ", PONumber="PO-1"),
    ]  # fmt: skip
    return ApBatch(Batch=name, Period=PERIOD, Company="01", Total=Decimal(amount),
                   apMaster=[master], apDetail=lines)  # fmt: skip


async def test_vendor_and_voucher_happy_path(sim: Sim, vp: DeltekClient) -> None:
    firm = await vp.create_firm(Firm(Name="Summit Survey Supply LLC", VendorInd="Y", ClientInd="N"))
    assert firm.ClientID
    assert firm.Vendor
    assert firm.Vendor.isdigit()
    assert firm.ClientID is not None
    assert firm.Vendor is not None
    await vp.add_address(
        firm.ClientID, FirmAddress(Address="Remit", Payment="true", Country="United States")
    )
    assert [a.Address for a in await vp.list_addresses(firm.ClientID)] == ["Remit"]
    await vp.upsert_vendor_accounting(
        firm.ClientID, VendorAccounting(Vendor=firm.Vendor, PayTerms="Next")
    )
    await vp.upsert_vendor_accounting(
        firm.ClientID, VendorAccounting(Vendor=firm.Vendor, PayTerms="PWP")
    )
    accounting = await vp.get_vendor_accounting(firm.ClientID)
    assert accounting is not None
    assert accounting.PayTerms == "PWP"

    assert await vp.get_ap_batch("C-1") is None
    assert await vp.list_ap_vouchers("C-1") == []
    created = await vp.create_ap_batch(batch("C-1", firm.Vendor, "1234.56"))
    assert (created.Batch, created.apMaster) == ("C-1", [])  # the header alone (§3.D)
    entered = await vp.get_ap_batch("C-1")
    assert entered is not None
    assert entered.Posted == "N"
    [master] = await vp.list_ap_vouchers("C-1")
    assert master.Voucher is not None  # assigned by the tenant
    [line] = await vp.list_ap_lines("C-1")
    assert line.Amount == Decimal("1234.56")
    result = await vp.post_batch("C-1", PERIOD, company="01", description="Coupa invoice 1")
    assert result.ok
    assert result.postseqList.isdigit()
    rows = await vp.find_posted_invoice(firm.Vendor, "C-1-INV", column="Invoice")
    assert [(r.Voucher, r.Amount) for r in rows] == [(master.Voucher, Decimal("1234.56"))]
    assert len(sim.state.store.ledger) > len(rows)  # the filter, not an empty ledger, did this
    with pytest.raises(PostingError, match="already posted"):
        await vp.post_batch("C-1", PERIOD, company="01")


async def test_reference_reads_page_through_everything(sim: Sim, vp: DeltekClient) -> None:
    firms = [f async for f in vp.iter_firms()]  # page_size 25 against 48 firms: 2 pages
    assert len(firms) == len(sim.state.store.firms) > 25
    assert len({f.ClientID for f in firms}) == len(firms)
    accounts = [a async for a in vp.iter_accounts(FilterHash().where("Status", "A"))]
    assert accounts
    assert all(a.Status == "A" for a in accounts)
    tasks = [p async for p in vp.iter_projects(level="wbs3")]
    assert tasks
    assert all(p.WBS3 for p in tasks)
    project = await vp.get_project(tasks[0].WBS1)
    assert project is not None
    assert project.WBS2 == ""
    assert project.SubLevel == "Y"
    assert await vp.get_project("NOPE") is None
    assert {p.Period for p in await vp.list_periods()} >= {PERIOD}
    assert await vp.amounts_visible()
    banks = {bank.Code: bank for bank in await vp.list_bank_codes()}
    assert set(banks) == set(sim.state.store.bank_codes)
    assert (banks["OPER"].Description, banks["OPER"].Account) == ("Operating Account", "111.00")


async def test_fatal_error_keeps_deltek_message_and_is_not_retried(
    sim: Sim, vp: DeltekClient
) -> None:
    await vp.list_periods()
    calls = sim.faults.calls
    with pytest.raises(FatalError) as caught:
        await vp.create_ap_batch(batch("F-1", "NOSUCH"))
    assert caught.value.status == 400
    assert caught.value.detail == "Vendor NOSUCH does not exist."
    assert sim.faults.calls == calls + 1


async def test_401_after_n_calls_refreshes_once_and_retries(sim: Sim, vp: DeltekClient) -> None:
    await vp.list_periods()
    await sim.set_faults(unauthorized={"after": 0, "count": 1})
    assert await vp.list_periods()
    assert vp.auth.grants == 2  # the password grant, then one refresh
    assert sim.faults.injected == {"unauthorized": 1}


async def test_persistent_401_marks_the_connection_as_needing_attention(
    sim: Sim, vp: DeltekClient
) -> None:
    await vp.list_periods()
    await sim.set_faults(unauthorized={"after": 0, "count": 1000})
    with pytest.raises(NeedsAttentionError):
        await vp.list_periods()
    calls = sim.faults.calls
    with pytest.raises(NeedsAttentionError):
        await vp.list_periods()
    assert sim.faults.calls == calls  # failed fast: nothing sent
    await sim.set_faults()
    vp.auth.clear_attention()
    assert await vp.list_periods()


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (
            SimOptions(
                strict_credentials=True, credentials=Credentials(password="other"), seed=SMALL_SEED
            ),
            "incorrect",
        ),
        (
            SimOptions(
                strict_credentials=True, credentials=Credentials(database="OTHER"), seed=SMALL_SEED
            ),
            "database",
        ),
        (SimOptions(password_grant_enabled=False, seed=SMALL_SEED), "not allowed"),
    ],
)
async def test_refused_credentials_need_attention(
    start_sim: SimFactory, options: SimOptions, reason: str
) -> None:
    sim = await start_sim(options)
    async with sim.client() as vp:
        with pytest.raises(NeedsAttentionError, match=reason):
            await vp.list_periods()
        assert vp.auth.attention is not None


async def test_strict_simulator_accepts_the_configured_credentials(start_sim: SimFactory) -> None:
    sim = await start_sim(SimOptions(strict_credentials=True, seed=SMALL_SEED))
    async with sim.client() as vp:
        assert await vp.list_periods()


async def test_expired_tokens_are_refreshed_single_flight(sim: Sim, vp: DeltekClient) -> None:
    await vp.list_periods()
    async with sim.http.post(f"{sim.url}/_admin/tokens/expire") as response:
        assert (await response.json())["expired"] == 1
    results = await asyncio.gather(*(vp.get_project("2023001.00") for _ in range(8)))
    assert all(results)
    assert vp.auth.grants == 2  # eight 401s, one refresh
    async with sim.http.post(f"{sim.url}/_admin/tokens/expire"):
        pass
    assert await vp.list_periods()  # the rotated refresh token was kept and works
    assert vp.auth.grants == 3


async def test_short_token_lifetime_is_renewed_before_expiry(sim: Sim, vp: DeltekClient) -> None:
    await sim.set_faults(token_ttl_seconds=1)
    await vp.list_periods()
    await asyncio.sleep(0.6)  # past the renewal point (half the lifetime), before expiry
    await vp.list_periods()
    assert vp.auth.grants == 2
    assert "unauthorized" not in sim.faults.injected


async def test_429_burst_is_retried_honouring_retry_after(sim: Sim, vp: DeltekClient) -> None:
    await vp.list_periods()
    await sim.set_faults(throttle={"after": 0, "count": 2}, throttle_retry_after=0.02)
    assert await vp.create_ap_batch(batch("T-1", active_vendor(sim)))
    assert sim.sleeps == [0.02, 0.02]
    assert len(sim.state.store.batches["T-1"].masters) == 1


async def test_server_errors_are_retried_then_surface(sim: Sim, vp: DeltekClient) -> None:
    await vp.list_periods()
    await sim.set_faults(server_errors={"after": 0, "count": 2}, server_error_status=500)
    assert await vp.create_ap_batch(batch("S-1", active_vendor(sim)))
    assert len(sim.state.store.batches["S-1"].masters) == 1
    await sim.set_faults(server_error_rate=1.0)
    with pytest.raises(RetriableError) as caught:
        await vp.list_periods()
    assert caught.value.status == 503
    assert len(sim.sleeps) == 2 + 3


@pytest.mark.parametrize("mode", ["disconnect", "gateway_timeout"])
async def test_lost_write_answer_is_outcome_unknown_never_resent(
    sim: Sim, vp: DeltekClient, mode: str
) -> None:
    await vp.list_periods()
    await sim.set_faults(lost_answer={"after": 0, "count": 1}, lost_answer_mode=mode)
    with pytest.raises(OutcomeUnknownError):
        await vp.create_ap_batch(batch("L-1", active_vendor(sim)))
    assert sim.faults.writes == 1  # not resent
    assert await vp.get_ap_batch("L-1") is not None  # what the caller must do next
    assert len(await vp.list_ap_vouchers("L-1")) == 1


async def test_slow_answers_past_the_timeout(sim: Sim) -> None:
    """A timed-out read is retried; a timed-out write may have committed, so it is not."""
    async with sim.client(timeout_seconds=0.05) as vp:
        await vp.list_periods()
        await sim.set_faults(latency_ms=150)
        with pytest.raises(OutcomeUnknownError):
            await vp.create_ap_batch(batch("SL-1", active_vendor(sim)))
        with pytest.raises(RetriableError):
            await vp.list_periods()
        await asyncio.sleep(0.2)  # let the server count the requests it is still delaying
        assert sim.faults.calls == 1 + 4  # one write, never resent; four read attempts


async def test_restricted_role_is_detected(sim: Sim, vp: DeltekClient) -> None:
    assert await vp.amounts_visible()
    async with sim.http.post(f"{sim.url}/_admin/options", json={"restricted_role": True}) as r:
        assert r.status == 200
    assert not await vp.amounts_visible()


async def test_instance_prefix_with_vision_endpoint(start_sim: SimFactory) -> None:
    options = SimOptions(instance="acme", vendor_accounting="on_insert", seed=SMALL_SEED)
    sim = await start_sim(options)
    async with sim.client() as vp:
        assert vp.config.vision == f"{sim.url}/acme/vision"
        store = sim.state.store
        firm = next(
            f
            for f in store.firms.values()
            if f["Vendor"] and f["ClientID"] not in store.ve_accounting
        )
        await vp.upsert_vendor_accounting(
            firm["ClientID"], VendorAccounting(Vendor=firm["Vendor"], PayTerms="Next", Company="")
        )
        assert sim.state.store.ve_accounting[firm["ClientID"]]["PayTerms"] == "Next"


async def test_unreachable_tenant_is_retriable(sim: Sim) -> None:
    async with sim.client(base_url="http://127.0.0.1:9/api") as vp:
        with pytest.raises(RetriableError, match="cannot connect"):
            await vp.list_periods()


@pytest.mark.parametrize("key", ["Invoice", "InvoiceNumber"])
async def test_the_ledger_invoice_column_is_found_out_never_guessed(
    start_sim: SimFactory, key: LedgerInvoiceKey
) -> None:
    """A tenant's vendor-invoice column is probed, and a look-up on the column it lacks raises
    FieldMissingError instead of coming back empty (deltek-api.md §3.C, §3.D)."""
    sim = await start_sim(SimOptions(ledger_invoice_key=key, seed=SMALL_SEED))
    other = "InvoiceNumber" if key == "Invoice" else "Invoice"
    posted = sim.state.store.ledger[0]
    async with sim.client() as vp:
        assert await vp.ledger_has_column(key)
        assert not await vp.ledger_has_column(other)
        rows = await vp.find_posted_invoice(posted["Vendor"], posted["Invoice"], column=key)
        assert {row.Batch for row in rows} == {posted["Batch"]}
        assert getattr(rows[0], key) == posted["Invoice"]
        with pytest.raises(FieldMissingError) as caught:
            await vp.find_posted_invoice(posted["Vendor"], posted["Invoice"], column=other)
    assert (caught.value.field, caught.value.status) == (other, 400)
    assert sim.sleeps == []  # a configuration error: not retried


async def test_a_tenant_that_nests_the_batch_answer_reads_the_same(start_sim: SimFactory) -> None:
    """Whether apControl/{batch} nests vouchers or not, the vouchers read the same (§3.D)."""
    sim = await start_sim(SimOptions(batch_read="nested", seed=SMALL_SEED))
    async with sim.client() as vp:
        await vp.create_ap_batch(batch("N-1", active_vendor(sim)))
        header = await vp.get_ap_batch("N-1")
        vouchers = await vp.list_ap_vouchers("N-1")
    assert header is not None
    assert [m.Voucher for m in header.apMaster] == [m.Voucher for m in vouchers]
    assert vouchers[0].Voucher


async def test_a_ledger_that_ignores_the_invoice_filter_is_no_answer(
    start_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """§3.C: PSALedger ignores what it does not filter on. Rows of other invoices are neither
    "posted" nor "not posted": the probe refuses the column and the look-up raises."""
    sim = await start_sim(SimOptions(seed=SMALL_SEED))
    posted = sim.state.store.ledger[0]

    def ignoring(rows: list[Any], terms: list[Any], columns: Any = None) -> list[Any]:
        return rows

    monkeypatch.setattr("simulators.deltek.routes.apply_filter", ignoring)
    async with sim.client() as vp:
        assert not await vp.ledger_has_column("Invoice")
        with pytest.raises(FieldMissingError, match="was not applied"):
            await vp.find_posted_invoice(posted["Vendor"], posted["Invoice"], column="Invoice")
