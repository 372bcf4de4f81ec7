"""The tenant probes of `connections test` against the Deltek simulator over real HTTP: each
setting the API shows is checked both ways, each one it cannot show is reported as ASSUMED
whatever the tenant does, and nothing but reads (and token requests) reaches either system."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from shared.connections.diagnose import diagnose
from shared.connections.findings import Finding
from shared.connections.model import Connection
from shared.deltek import DeltekClient
from shared.deltek.keys import voucher_number
from shared.http import FatalError
from tests.integration.connections.conftest import (
    ENV,
    SMALL_DELTEK,
    Sims,
    StartSims,
    connection,
)
from tests.integration.deltek.test_contract import batch

pytestmark = pytest.mark.integration


async def probe(conn: Connection, db: Any) -> dict[str, Finding]:
    return {f.check: f for f in await diagnose(conn, db)}


async def finding(check: str, sims: Sims, tmp_path: Path, db: Any, **keys: Any) -> Finding:
    """One check of the example connection, with ``keys`` of it replaced (see ``connection``)."""
    return (await probe(connection(tmp_path, sims, **keys), db))[check]


def tenant(sims: Sims) -> Any:
    assert sims.deltek is not None
    return sims.deltek


async def enter_voucher(conn: Connection, sims: Sims, voucher: str | None = None) -> str:
    """What the tenant answers to a voucher entered as the poster enters it: "entered", or
    Deltek's refusal word for word."""
    firms = tenant(sims).store.firms.values()
    vendor = next(f["Vendor"] for f in firms if f["VendorInd"] == "Y" and f["Status"] == "A")
    body = batch("PROBE-1", vendor)
    body.apMaster[0].Voucher = voucher
    async with DeltekClient(conn.deltek_config()) as vp:
        try:
            await vp.create_ap_batch(body)
        except FatalError as exc:
            return exc.detail
    return "entered"


# -- assumed: not visible through the API ----------------------------------------------------


async def test_assigned_voucher_numbers_are_assumed_and_the_refusal_named_is_the_tenants(
    start_sims: StartSims, tmp_path, db
):
    said = {}
    for numbering in ("assigned", "entry_required"):
        sims = await start_sims(deltek={"voucher_numbers": numbering})
        conn = connection(tmp_path, sims)
        found = (await probe(conn, db))["Voucher numbers"]
        said[numbering] = found
        answer = await enter_voucher(conn, sims)
        if numbering == "assigned":
            assert answer == "entered"
        else:  # the assumption is wrong here, and the tenant refuses in the words quoted
            assert f'"{answer}"' in found.message
    # The API cannot show the company's setting: both tenants get the same words.
    assert said["assigned"] == said["entry_required"]
    assert said["assigned"].status == "ASSUMED"
    assert "deltek.voucher_numbers: assigned" in said["assigned"].message
    assert "Require Entry of Voucher Numbers" in said["assigned"].hint


async def test_our_voucher_numbers_are_assumed_and_refused_by_a_tenant_that_assigns(
    start_sims: StartSims, tmp_path, db
):
    sims = await start_sims()  # assigns its own numbers
    conn = connection(tmp_path, sims, deltek={"voucher_numbers": "ours"})
    found = (await probe(conn, db))["Voucher numbers"]
    assert found.status == "ASSUMED"
    assert "deltek.voucher_numbers: ours" in found.message
    assert "expect Deltek to refuse every voucher" in found.message
    assert "valid range" in found.hint
    assert await enter_voucher(conn, sims, voucher_number("job")) != "entered"


async def test_file_grouping_and_the_liability_code_are_assumptions(
    start_sims: StartSims, tmp_path, db
):
    sims = await start_sims()
    found = await probe(connection(tmp_path, sims), db)
    files = found["Group by files"]
    assert files.status == "ASSUMED"
    assert '"Use Files to Group Transactions" is Yes' in files.message
    assert "Settings > Accounting > Transactions" in files.hint
    liability = found["Liability code"]
    assert liability.status == "ASSUMED"
    assert "liability code 'Trade' (deltek.liability_code)" in liability.message
    assert "Liability Accounts" in liability.hint
    unset = await finding("Liability code", sims, tmp_path, db, deltek={"liability_code": None})
    assert unset.status == "PROBLEM"
    assert "deltek.liability_code is not set" in unset.message


async def test_approvals_before_posting_matter_only_when_the_connector_posts(
    start_sims: StartSims, tmp_path, db
):
    sims = await start_sims()
    off = await finding("Post approvals", sims, tmp_path, db)
    assert off.status == "SKIPPED"
    assert "does not post (deltek.post_batches: false)" in off.message
    on = await finding("Post approvals", sims, tmp_path, db, deltek={"post_batches": True})
    assert on.status == "ASSUMED"
    assert "Require Complete Approvals to Post Transaction Files" in on.message
    assert "deltek.post_batches: false" in on.hint


async def test_pay_terms_say_what_coupa_terms_become(start_sims: StartSims, tmp_path, db):
    sims = await start_sims()
    default = await finding("Pay terms", sims, tmp_path, db)
    assert default.status == "OK"
    assert "no Coupa term is mapped (mapping.pay_terms)" in default.message
    assert "-> Date, pay date = invoice date + the net days" in default.message
    mapping = {"pay_terms": {"Due on receipt": "Next", "Net 30": "Date"}, "net_terms_as": "Next"}
    mapped = (await finding("Pay terms", sims, tmp_path, db, mapping=mapping)).message
    assert "'Due on receipt' -> Next, 'Net 30' -> Date" in mapped
    assert "-> Next, the next check run (mapping.net_terms_as)" in mapped


# -- checked: the bank code ------------------------------------------------------------------


async def test_the_bank_code_is_checked_against_the_tenants(start_sims: StartSims, tmp_path, db):
    sims = await start_sims()
    found = await finding("Bank code", sims, tmp_path, db)
    assert found.status == "OK"
    assert found.message == (
        "bank code 'OPER' exists (Operating Account, company 01, account 111.00)"
    )
    wrong = await finding("Bank code", sims, tmp_path, db, deltek={"bank_code": "NOBANK"})
    assert wrong.status == "PROBLEM"
    assert "'NOBANK' (deltek.bank_code) is not among the tenant's bank codes (OPER, PAYROLL)" in (
        wrong.message
    )
    assert "Settings > Cash Management > Banks" in wrong.hint
    unset = await finding("Bank code", sims, tmp_path, db, deltek={"bank_code": None})
    assert "deltek.bank_code is not set" in unset.message


@web.middleware
async def bank_codes_forbidden(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A role that may not read bank codes: 403 is how Vantagepoint says so (deltek-api.md §6)."""
    if request.path.endswith("/BankCode/CFGBANKS"):
        return web.json_response({"Message": "Authorization has been denied."}, status=403)
    return await handler(request)


async def test_unreadable_bank_codes_leave_the_code_assumed(start_sims: StartSims, tmp_path, db):
    sims = await start_sims(deltek_middlewares=(bank_codes_forbidden,))
    found = await probe(connection(tmp_path, sims), db)
    assert found["Bank code"].status == "ASSUMED"
    assert "could not be read" in found["Bank code"].message
    assert "'OPER'" in found["Bank code"].message
    assert found["Ledger column"].status == "OK"  # the other probes carry on


# -- checked: the ledger's invoice column ----------------------------------------------------


async def stored_column(db: Any) -> str | None:
    value = await db.fetchval("SELECT value FROM tenant_facts WHERE connection = 'acme'")
    return None if value is None else str(value)


@pytest.mark.parametrize("column", ["Invoice", "InvoiceNumber"])
async def test_the_ledger_column_is_found_out_and_stored_as_the_poster_does(
    column: str, start_sims: StartSims, tmp_path, db
):
    sims = await start_sims(deltek={"ledger_invoice_key": column})
    conn = connection(tmp_path, sims)
    found = (await probe(conn, db))["Ledger column"]
    assert found.status == "OK"
    assert f"vendor's invoice number in {column!r}; stored for the poster" in found.message
    assert await stored_column(db) == column
    again = (await probe(conn, db))["Ledger column"]  # from the stored fact, checked again
    assert again == found


async def test_a_fixed_column_the_tenant_lacks_is_a_problem(start_sims: StartSims, tmp_path, db):
    sims = await start_sims()  # the ledger has Invoice
    wrong = {"ledger_invoice_column": "InvoiceNumber"}
    found = await finding("Ledger column", sims, tmp_path, db, deltek=wrong)
    assert found.status == "PROBLEM"
    assert (
        "has no column InvoiceNumber (the connection's deltek.ledger_invoice_column)"
        in found.message
    )
    assert "Field InvoiceNumber does not exist" in found.message  # Deltek's own words
    assert "remove it to let the connector find it out" in found.hint
    assert await stored_column(db) is None
    right = {"ledger_invoice_column": "Invoice"}
    fixed = await finding("Ledger column", sims, tmp_path, db, deltek=right)
    assert fixed.status == "OK"
    assert "the column 'Invoice' that deltek.ledger_invoice_column names" in fixed.message


async def test_a_stored_column_the_tenant_lost_is_forgotten_then_found_again(
    start_sims: StartSims, tmp_path, db
):
    sims = await start_sims()
    conn = connection(tmp_path, sims)
    assert (await probe(conn, db))["Ledger column"].status == "OK"
    state = tenant(sims)
    state.options = state.options.model_copy(update={"ledger_invoice_key": "InvoiceNumber"})
    lost = (await probe(conn, db))["Ledger column"]
    assert lost.status == "PROBLEM"
    assert "has no column Invoice (found out earlier)" in lost.message
    assert "run this test again" in lost.hint
    assert await stored_column(db) is None
    found = (await probe(conn, db))["Ledger column"]
    assert found.status == "OK"
    assert await stored_column(db) == "InvoiceNumber"


@web.middleware
async def ledger_without_invoice(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A tenant whose AP ledger has neither invoice column the connector knows (§3.C)."""
    if request.path.endswith("/PSALedger/AP"):
        for key, name in request.query.items():
            if key.endswith("[name]") and name in ("Invoice", "InvoiceNumber"):
                return web.json_response({"Message": f"Field {name} does not exist."}, status=400)
    return await handler(request)


async def test_a_ledger_without_either_column_is_a_problem(start_sims: StartSims, tmp_path, db):
    sims = await start_sims(deltek_middlewares=(ledger_without_invoice,))
    found = await finding("Ledger column", sims, tmp_path, db)
    assert found.status == "PROBLEM"
    assert "has none of the columns Invoice, InvoiceNumber" in found.message
    assert "the API role must see it" in found.hint
    assert await stored_column(db) is None


# -- checked: open periods -------------------------------------------------------------------


def this_month(today: date) -> int:
    return today.year * 100 + today.month


async def test_open_periods_and_where_todays_invoices_book(start_sims: StartSims, tmp_path, db):
    today = datetime.now(UTC).date()  # the day the probe books by
    sims = await start_sims(deltek={"seed": SMALL_DELTEK.model_copy(update={"today": today})})
    conn = connection(tmp_path, sims)
    found = (await probe(conn, db))["Open periods"]
    assert found.status == "OK"
    assert found.message == (
        f"4 of 14 accounting periods are open, this month's ({this_month(today)}) among them: "
        "invoices approved today book in it"
    )
    periods = tenant(sims).store.periods
    current = next(p for p in periods if p["Period"] == this_month(today))
    current["Closed"] = "Y"
    later = (await probe(conn, db))["Open periods"]
    following = periods[periods.index(current) + 1]["Period"]
    assert later.status == "OK"
    assert f"but not this month's: invoices approved today book in {following}" in later.message
    for period in periods:
        period["Closed"] = "Y"
    none = (await probe(conn, db))["Open periods"]
    assert none.status == "PROBLEM"
    assert none.message.startswith("none of the 14 accounting periods is open")
    assert f"No open Deltek period for {today:%Y-%m}" in none.message
    assert "Utilities > Open New Period" in none.hint


async def test_periods_that_all_lie_in_the_past_are_a_problem(start_sims: StartSims, tmp_path, db):
    old = SMALL_DELTEK.model_copy(update={"today": date(2020, 1, 15)})
    sims = await start_sims(deltek={"seed": old})
    found = await finding("Open periods", sims, tmp_path, db)
    assert found.status == "PROBLEM"
    assert "4 of 14 accounting periods are open, none this month's or later" in found.message


# -- reads only, no secret -------------------------------------------------------------------


async def requests_to(base: str) -> dict[str, int]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/_admin/requests") as answer:
        return dict((await answer.json())["counts"])


async def test_the_probes_only_read_and_say_no_secret(start_sims: StartSims, tmp_path, db):
    sims = await start_sims()
    conn = connection(tmp_path, sims, deltek={"post_batches": True})
    findings = await diagnose(conn, db)
    deltek = await requests_to(sims.deltek_url.removesuffix("/api"))
    coupa = await requests_to(sims.coupa_url)
    assert "GET /api/BankCode/CFGBANKS" in deltek
    assert "GET /api/PSALedger/AP" in deltek
    for counts in (deltek, coupa):
        writes = [k for k in counts if not k.startswith("GET ") and not k.endswith("/token")]
        assert writes == [], writes
    text = repr(findings)
    for secret in ENV.values():
        assert secret not in text
