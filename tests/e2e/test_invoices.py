"""Invoices end to end through real processes: Coupa simulator → ingest → mapper → poster →
Deltek simulator, judged by reading the Deltek simulator, not the connector's bookkeeping."""

from __future__ import annotations

import asyncio
import signal
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from devstack.driver import approve, create_invoice, push_again
from devstack.supervisor import SIM_CONNECTION
from services.cli.main import main
from shared.coupa import CoupaClient, CoupaClientConfig
from tests.support import eventually

pytestmark = pytest.mark.e2e

Invoice = dict[str, Any]
# Removes a map as `connector mappings` would: the mapper is told in the same statement.
UNMAP = """WITH gone AS (DELETE FROM mappings WHERE connection = $1 AND kind = $2
                                            AND coupa_value = $3
                         RETURNING deltek_value)
           SELECT (SELECT deltek_value FROM gone), pg_notify('connector_mappings', $1)"""
POSTED = """SELECT count(DISTINCT record_key) FROM records
             WHERE record_key = ANY($1::text[]) AND state = 'posted'"""


async def approve_new(rig, count: int, *, callout: bool = True, **fields: Any) -> list[Invoice]:
    async with aiohttp.ClientSession() as http:
        return [
            await approve(
                http,
                rig.coupa,
                (await create_invoice(http, rig.coupa, **fields))["id"],
                callout=callout,
            )
            for _ in range(count)
        ]


async def assert_all_once(rig, invoices: list[Invoice]) -> None:
    states = await rig.settle(invoices)
    verdict = await rig.verdict(invoices, states)
    assert verdict.ok, (verdict.line(), verdict.problems[:5], states)


async def test_pushed_polled_and_repushed_invoices_each_land_exactly_once(rig):
    pushed = await approve_new(rig, 6)
    polled = await approve_new(rig, 6, callout=False)
    async with aiohttp.ClientSession() as http:
        for invoice in pushed[:3]:
            await push_again(http, rig.callouts, invoice, rig.stack.callout_secret, times=2)
    await assert_all_once(rig, pushed + polled)
    sources = await rig.fetchval(
        "SELECT array_agg(DISTINCT details->>'source') FROM audit_events WHERE event = 'received'"
    )
    assert {"webhook", "poll"} <= set(sources)


def kinds_of(invoice: Invoice) -> set[str]:
    lines = invoice.get("invoice-lines") or []
    found = set()
    if invoice.get("document-type") == "Credit Note":
        found.add("credit note")
    if invoice.get("invoice-charges") or any(
        Decimal(invoice.get(k) or "0") != 0
        for k in ("shipping-amount", "handling-amount", "misc-amount")
    ):
        found.add("charges")
    if Decimal(invoice.get("tax-amount") or "0") != 0:
        found.add("tax")
    if len(lines) > 1:
        found.add("multi-line")
    if any(line.get("account-allocations") for line in lines):
        found.add("split allocation")
    if not any(line.get("po-number") for line in lines):
        found.add("non-PO")
    if (invoice.get("currency") or {}).get("code") not in (None, "USD"):
        found.add("second currency")
    return found


async def test_every_kind_of_invoice_lands_with_the_right_vendor_lines_and_amounts(rig):
    wanted = {
        "credit note",
        "charges",
        "tax",
        "multi-line",
        "split allocation",
        "non-PO",
        "second currency",
    }
    config = CoupaClientConfig(
        base_url=rig.coupa,
        client_id="t",
        client_secret=SecretStr("t"),
        token_first_use_delay_seconds=0,
    )
    chosen: dict[str, Invoice] = {}
    async with CoupaClient(config) as coupa:
        async for invoice in coupa.iter_invoices(status="pending_approval"):
            for kind in kinds_of(invoice.raw) & (wanted - set(chosen)):
                chosen[kind] = invoice.raw
    assert set(chosen) == wanted, f"the seed lacks {wanted - set(chosen)}"
    async with aiohttp.ClientSession() as http:
        approved = {
            invoice["id"]: await approve(http, rig.coupa, invoice["id"], callout=n % 2 == 0)
            for n, invoice in enumerate({i["id"]: i for i in chosen.values()}.values())
        }
    await assert_all_once(rig, list(approved.values()))


async def run_cli(argv: list[str], monkeypatch, rig) -> int:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", rig.database_url)
    return await asyncio.to_thread(main, argv)


async def test_unmapped_supplier_and_account_park_then_go_on_after_an_import(
    rig, monkeypatch, tmp_path
):
    async with aiohttp.ClientSession() as http:
        target = await create_invoice(http, rig.coupa)
    supplier = str(target["supplier"]["number"])
    vendor = await rig.fetchval(
        UNMAP,
        SIM_CONNECTION,
        "supplier",
        supplier,
    )
    gl = str(target["invoice-lines"][0]["account"]["segment-2"])
    account = await rig.fetchval(
        UNMAP,
        SIM_CONNECTION,
        "account",
        gl,
    )
    async with aiohttp.ClientSession() as http:
        invoice = await approve(http, rig.coupa, target["id"])
    states = await rig.settle([invoice])
    assert set(states.values()) == {"parked"}
    reason = await rig.fetchval(
        "SELECT parked_reason FROM records WHERE record_key = $1 ORDER BY id DESC LIMIT 1",
        f"{SIM_CONNECTION}:invoice:{invoice['id']}",
    )
    assert f"Coupa supplier {supplier}" in reason and "has no Deltek vendor" in reason
    assert f"Coupa GL segment {gl}" in reason and "has no Deltek GL account" in reason

    for kind, coupa_value, deltek_value in (
        ("suppliers", supplier, vendor),
        ("accounts", gl, account),
    ):
        csv = tmp_path / f"{kind}.csv"
        csv.write_text(f"coupa_value,deltek_value\n{coupa_value},{deltek_value}\n")
        assert (
            await run_cli(
                ["mappings", "import", "--connection", SIM_CONNECTION, "--kind", kind, str(csv)],
                monkeypatch,
                rig,
            )
            == 0
        )
    states = await rig.settle([invoice], within=60, through=("parked",))
    assert set(states.values()) == {"posted"}
    await assert_all_once(rig, [invoice])


async def test_expired_tokens_and_429_storms_are_ridden_out(rig):
    await rig.faults(
        "coupa",
        unauthorized={"after": 2, "count": 1},
        throttle={"after": 0, "count": 3, "every": 10},
    )
    await rig.faults(
        "deltek",
        unauthorized={"after": 3, "count": 1},
        throttle={"after": 1, "count": 2, "every": 8},
    )
    try:
        invoices = await approve_new(rig, 4) + await approve_new(rig, 4, callout=False)
        await assert_all_once(rig, invoices)
        coupa, deltek = await rig.injected("coupa"), await rig.injected("deltek")
        assert coupa.get("unauthorized") and coupa.get("throttle"), coupa
        assert deltek.get("unauthorized") and deltek.get("throttle"), deltek
    finally:
        await rig.faults("coupa")
        await rig.faults("deltek")


async def test_a_deltek_write_whose_answer_is_lost_is_booked_exactly_once(rig):
    await rig.faults("deltek", lost_answer={"after": 0, "count": 2})
    try:
        invoices = await approve_new(rig, 3)
        await assert_all_once(rig, invoices)
        assert (await rig.injected("deltek")).get("lost_answer") == 2
    finally:
        await rig.faults("deltek")


async def test_a_poster_killed_mid_batch_comes_back_and_books_every_invoice_once(rig):
    await rig.faults("deltek", latency_ms=40)
    try:
        invoices = await approve_new(rig, 30)
        keys = [f"{SIM_CONNECTION}:invoice:{invoice['id']}" for invoice in invoices]

        async def some_posted() -> bool:
            posted = await rig.fetchval(
                POSTED,
                keys,
            )
            return posted >= 3

        await eventually(some_posted, within=60, what="the first invoices posted")
        poster = rig.stack.child("poster")
        assert poster.proc is not None
        poster.proc.send_signal(signal.SIGKILL)
        poster.proc.wait(10)
        remaining = await rig.fetchval(
            POSTED,
            keys,
        )
        assert remaining < len(invoices), "the kill came too late to land mid-batch"

        async def restarted() -> bool:
            rig.stack.tend()
            return poster.proc is not None and poster.proc.poll() is None

        await eventually(restarted, within=30, what="the poster restarting")
        await assert_all_once(rig, invoices)
    finally:
        await rig.faults("deltek")
