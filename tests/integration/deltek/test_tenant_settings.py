"""Pins the simulator to the §3.D facts that decide whether a real tenant accepts a voucher:
each is enforced by default, and its option gives the other reading (deltek-api.md §3.D)."""

from __future__ import annotations

from typing import Any

from simulators.deltek import SeedOptions, SimOptions
from simulators.deltek.entry import LEDGER_COLUMNS, VOUCHER_ENTRY_REFUSED
from simulators.deltek.options import BatchRead, LedgerInvoiceKey
from simulators.deltek.store import VOUCHER_RANGE
from tests.integration.deltek.conftest import SMALL_SEED, TODAY, Sim, SimFactory
from tests.integration.deltek.test_fidelity import active_vendor, voucher


async def _send(sim: Sim, method: str, path: str, body: object) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {await sim.token()}"}
    async with sim.http.request(method, f"{sim.api}{path}", json=body, headers=headers) as r:
        return r.status, await r.json()


async def _read(sim: Sim, path: str, **params: str) -> tuple[int, Any]:
    async with await sim.get(path, await sim.token(), **params) as response:
        return response.status, await response.json()


def _ledger_filter(column: str, value: str) -> dict[str, str]:
    return {"filterHash[0][name]": column, "filterHash[0][value]": value,
            "filterHash[0][opp]": "=", "filterHash[0][type]": "string"}  # fmt: skip


async def test_voucher_numbers_are_assigned_and_an_entered_one_is_refused(sim: Sim) -> None:
    """§3.D: Vantagepoint assigns voucher numbers (in the company's valid range, from its own
    sequence) unless the company requires entry; an entered Voucher is refused, and a refused
    batch leaves nothing behind."""
    vendor = active_vendor(sim)
    for batch in ("VA-1", "VA-2"):
        assert (await _send(sim, "POST", "/DataEntry/apControl", voucher(batch, vendor)))[0] == 201
    numbers = []
    for batch in ("VA-1", "VA-2"):
        status, [master] = await _read(sim, f"/DataEntry/apMaster/{batch}")
        numbers.append(master["Voucher"])
    assert all(n.isdigit() and int(n) in VOUCHER_RANGE for n in numbers)
    assert int(numbers[1]) == int(numbers[0]) + 1
    entered = voucher("VA-3", vendor, Voucher="V0001")
    status, body = await _send(sim, "POST", "/DataEntry/apControl", entered)
    assert (status, body) == (400, {"Message": VOUCHER_ENTRY_REFUSED.format(company="01")})
    assert "VA-3" not in sim.state.store.batches


async def test_voucher_entry_required_refuses_a_missing_voucher_and_keeps_one_sent(
    start_sim: SimFactory,
) -> None:
    """§3.D, §3.A (option): where the company requires entry of voucher numbers, a voucher
    without one is refused with "Please provide a Voucher for table apMaster." and the number
    sent is the number kept."""
    sim = await start_sim(SimOptions(voucher_numbers="entry_required", seed=SMALL_SEED))
    vendor = active_vendor(sim)
    status, body = await _send(sim, "POST", "/DataEntry/apControl", voucher("VE-1", vendor))
    assert (status, body) == (400, {"Message": "Please provide a Voucher for table apMaster."})
    sent = voucher("VE-2", vendor, Voucher="V12345")
    assert (await _send(sim, "POST", "/DataEntry/apControl", sent))[0] == 201
    _, [master] = await _read(sim, "/DataEntry/apMaster/VE-2")
    assert master["Voucher"] == "V12345"


async def test_batch_read_is_the_header_only_unless_nested(start_sim: SimFactory) -> None:
    """§3.D, §3.A: GET /DataEntry/apControl/{batch} (and the POST's answer) carry the batch
    header only by default, vouchers and lines coming from apMaster/{batch} and
    apDetail/{batch}; the option nests them as some tenants do. Unknown batches answer 404."""
    readings: tuple[tuple[BatchRead, bool], ...] = (("header", False), ("nested", True))
    for option, nested in readings:
        sim = await start_sim(SimOptions(batch_read=option, seed=SMALL_SEED))
        _, [created] = await _send(
            sim, "POST", "/DataEntry/apControl", voucher("BR-1", active_vendor(sim))
        )
        _, [read] = await _read(sim, "/DataEntry/apControl/BR-1")
        for answer in (created, read):
            assert answer["Batch"] == "BR-1"
            assert ("apMaster" in answer, "apDetail" in answer) == (nested, nested)
        _, masters = await _read(sim, "/DataEntry/apMaster/BR-1")
        _, details = await _read(sim, "/DataEntry/apDetail/BR-1")
        assert ([m["MasterPKey"] for m in masters], [d["PKey"] for d in details]) == (
            ["BR-1-m"],
            ["BR-1-d"],
        )
        if nested:
            assert read["apMaster"] == masters
        for path in ("apControl", "apMaster", "apDetail"):
            assert (await _read(sim, f"/DataEntry/{path}/NOPE"))[0] == 404


async def test_a_vendor_firm_gets_its_vendor_accounting_row_when_saved(
    start_sim: SimFactory,
) -> None:
    """§3.D, §2.3: a firm saved with VendorInd = Y gets its vendor accounting row from
    Vantagepoint itself, so an insert answers the 500 NPE and the row is updated through the
    firm; the option creates it only on insert (§2.1, the 404 until then)."""
    for option in ("with_firm", "on_insert"):
        sim = await start_sim(SimOptions(vendor_accounting=option, seed=SMALL_SEED))
        status, [firm] = await _send(sim, "POST", "/firm", {"Name": "New Vendor", "VendorInd": "Y"})
        assert status == 201
        read = f"/firm/{firm['ClientID']}/vendorAccountingInfo"
        headers = {"Authorization": f"Bearer {await sim.token()}"}
        insert = {"Vendor": firm["Vendor"], "PayTerms": "Next", "Req1099": "Y"}
        async with sim.http.post(
            f"{sim.url}/vision/firm/VendorAccountingInfo", json=insert, headers=headers
        ) as response:
            inserted = response.status, await response.json()
        if option == "with_firm":
            status, [row] = await _read(sim, read)
            assert (status, row["Vendor"], row["PayTerms"]) == (200, firm["Vendor"], None)
            assert inserted == (
                500,
                {"Message": "Object reference not set to an instance of an object."},
            )
        else:
            assert inserted[0] == 201
        update = {"VEAccounting": [{"PayTerms": "Hold"}]}
        assert (await _send(sim, "PUT", f"/firm/{firm['ClientID']}", update))[0] == 200
        _, [row] = await _read(sim, read)
        assert row["PayTerms"] == "Hold"


async def test_a_ledger_filter_on_a_column_the_tenant_lacks_is_refused_never_empty(
    start_sim: SimFactory,
) -> None:
    """§3.D, §3.C: the vendor's invoice is Invoice on some tenants and InvoiceNumber on others;
    a filterHash on the column this tenant lacks is refused as an unknown field (§6 wording),
    also on an empty ledger, and never answered with an empty list."""
    keys: tuple[tuple[LedgerInvoiceKey, str], ...] = (
        ("Invoice", "InvoiceNumber"),
        ("InvoiceNumber", "Invoice"),
    )
    for key, other in keys:
        sim = await start_sim(SimOptions(ledger_invoice_key=key, seed=SMALL_SEED))
        posted = sim.state.store.ledger[0]
        status, rows = await _read(sim, "/PSALedger/AP", **_ledger_filter(key, posted["Invoice"]))
        assert status == 200
        assert rows
        assert all(row[key] == posted["Invoice"] and other not in row for row in rows)
        assert set(rows[0]) == set(LEDGER_COLUMNS) - {"Invoice"} | {key}
        status, body = await _read(sim, "/PSALedger/AP", **_ledger_filter(other, "INV-1000"))
        assert (status, body) == (400, {"Message": f"Field {other} does not exist."})
    no_history = SeedOptions(seed=1, vendors=0, projects=2, today=TODAY)
    empty = await start_sim(SimOptions(seed=no_history))
    assert empty.state.store.ledger == []
    status, body = await _read(empty, "/PSALedger/AP", **_ledger_filter("InvoiceNumber", "X"))
    assert (status, body) == (400, {"Message": "Field InvoiceNumber does not exist."})


async def test_the_tenant_settings_change_at_run_time(sim: Sim) -> None:
    """Issue 10: each §3.D option can be switched while the simulator runs, as the others can;
    the ledger answers its rows under the invoice column in force."""
    changes = {"voucher_numbers": "entry_required", "batch_read": "nested",
               "vendor_accounting": "on_insert", "ledger_invoice_key": "InvoiceNumber"}  # fmt: skip
    async with sim.http.post(f"{sim.url}/_admin/options", json=changes) as response:
        assert response.status == 200
        assert changes.items() <= (await response.json()).items()
    async with sim.http.get(f"{sim.url}/_admin/ledger") as response:
        assert all("InvoiceNumber" in row for row in await response.json())
    async with sim.http.post(
        f"{sim.url}/_admin/options", json={"voucher_numbers": "typed"}
    ) as response:
        assert response.status == 400
