"""The console in a real browser (Debian's Chromium, driven by Playwright) against a whole stack:
sign in, find a parked invoice, fix its mapping and see it post, replay one after its dry run; a
viewer can change nothing, a form without its CSRF token is refused, wrong passwords are limited.

Screenshots of each main page go to ``tests/artifacts/console/`` (git-ignored; CI keeps them).
"""

from __future__ import annotations

import asyncio
import re
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from playwright.async_api import Browser, FilePayload, Page, expect

from devstack.dev import CONSOLE_USER, ConsoleLogin, start_console
from devstack.driver import Invoice, approve, create_invoice
from devstack.supervisor import SIM_CONNECTION
from shared.embedded.process import free_port
from tests.browser import launched_chromium
from tests.e2e.conftest import Rig, running_rig
from tests.support import eventually

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"
VIEWER, VIEWER_PASSWORD = "vera", "a viewer's long password"
# Removes a supplier's map as `connector mappings` would, so its next invoice parks.
UNMAP = """WITH gone AS (DELETE FROM mappings WHERE connection = $1 AND kind = 'supplier'
                                            AND coupa_value = $2 RETURNING deltek_value)
           SELECT (SELECT deltek_value FROM gone), pg_notify('connector_mappings', $1)"""
NEWEST_STATE = "SELECT state FROM records WHERE record_key = $1 ORDER BY id DESC LIMIT 1"


@dataclass
class ConsoleRig:
    rig: Rig
    login: ConsoleLogin

    @property
    def url(self) -> str:
        return self.login.url


@pytest.fixture(scope="module")
def console_rig() -> Iterator[ConsoleRig]:
    with running_rig() as rig:
        login = start_console(rig.stack, free_port())
        users_file = Path(rig.stack.settings.state_dir) / "console-users.yaml"
        subprocess.run(  # a second user, made the way an administrator makes one
            [
                sys.executable,
                "-m",
                "services.cli",
                "console",
                "add-user",
                VIEWER,
                "--role",
                "viewer",
                "--file",
                str(users_file),
            ],
            input=VIEWER_PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
        yield ConsoleRig(rig, login)


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not at {CHROMIUM}: install Debian's chromium package "
            "(tools/system-packages does, and ./run test runs it)"
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with launched_chromium(chromium) as launched:
        yield launched


async def signed_in(browser: Browser, console: ConsoleRig, name: str, password: str) -> Page:
    """A fresh browser context, signed in with the keyboard alone."""
    page = await (await browser.new_context(viewport={"width": 1366, "height": 800})).new_page()
    await page.goto(console.url)
    await expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    await page.keyboard.type(name)  # the name field has the focus
    await page.keyboard.press("Tab")
    await page.keyboard.type(password)
    await page.keyboard.press("Enter")
    await expect(page.get_by_text(f"{name} (")).to_be_visible()
    return page


async def snap(page: Page, name: str) -> None:
    await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


async def parked_invoice(rig: Rig) -> tuple[Invoice, str, str]:
    """A new approved invoice whose supplier's map was removed, so it parks: the invoice, the
    Deltek vendor its map named, and its record key."""
    async with aiohttp.ClientSession() as http:
        target = await create_invoice(http, rig.coupa)
        vendor = await rig.fetchval(UNMAP, SIM_CONNECTION, str(target["supplier"]["number"]))
        invoice = await approve(http, rig.coupa, target["id"])
    key = f"{SIM_CONNECTION}:invoice:{invoice['id']}"
    assert (await rig.settle([invoice]))[key] == "parked"
    return invoice, vendor, key


def test_dev_prints_where_to_sign_in_and_keeps_the_secrets_private(console_rig):
    login, state = console_rig.login, Path(console_rig.rig.stack.settings.state_dir)
    assert login.url in login.describe()
    assert f"as {CONSOLE_USER} with password {login.password}" in login.describe()
    for name in ("console-admin.password", "console-session.secret", "console-users.yaml"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    assert login.password not in (state / "console-users.yaml").read_text()


async def test_sign_in_shows_the_overview(browser, console_rig):
    page = await (await browser.new_context()).new_page()
    await page.goto(console_rig.url)
    await snap(page, "sign-in")
    page = await signed_in(browser, console_rig, CONSOLE_USER, console_rig.login.password)
    await expect(
        page.get_by_role("heading", name=re.compile(f"^{SIM_CONNECTION} live"))
    ).to_be_visible()
    await expect(page.get_by_text("Last successful poll")).to_be_visible()
    await snap(page, "overview")


async def test_a_parked_invoice_is_found_fixed_in_the_queue_and_posts(browser, console_rig):
    rig = console_rig.rig
    invoice, vendor, key = await parked_invoice(rig)

    page = await signed_in(browser, console_rig, CONSOLE_USER, console_rig.login.password)
    await page.get_by_role("link", name="Records").click()
    await page.get_by_label("Invoice number").fill(invoice["invoice-number"])
    await page.get_by_label("State").select_option("parked")
    await page.keyboard.press("Enter")
    row = page.get_by_role("row").filter(has_text=invoice["invoice-number"])
    await expect(row).to_contain_text("has no Deltek vendor")
    await snap(page, "records")
    await row.get_by_role("link", name=key).click()
    await expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    await expect(page.get_by_text("Parked because")).to_be_visible()
    await snap(page, "record-parked")

    await page.get_by_role("link", name="Exceptions").click()
    group = page.locator("section.group").filter(has_text=str(invoice["supplier"]["name"]))
    await expect(group.get_by_role("heading")).to_contain_text(
        "1 invoice waits for a Deltek vendor"
    )
    await group.get_by_role("combobox").fill(vendor)  # the datalist offers the cached vendors
    await snap(page, "exceptions")
    await group.get_by_role("button").click()
    await expect(page.get_by_role("status")).to_contain_text(f"now maps to Deltek vendor {vendor}")
    # The page refreshes itself until the record has gone on.
    await expect(
        page.get_by_role("row").filter(has_text=invoice["invoice-number"])
    ).to_contain_text("posted", timeout=60_000)
    await snap(page, "watch")
    await page.get_by_role("link", name="Overview").click()
    await snap(page, "overview-after-fix")
    assert await rig.fetchval(NEWEST_STATE, key) == "posted"
    audited = await rig.fetchval(
        "SELECT service FROM audit_events WHERE record_key = $1 AND event = 'mapping_set'", key
    )
    assert audited == f"console:{CONSOLE_USER}"


async def test_one_invoice_is_replayed_after_its_dry_run_and_stays_booked_once(
    browser, console_rig
):
    rig = console_rig.rig
    async with aiohttp.ClientSession() as http:
        invoice = await approve(http, rig.coupa, (await create_invoice(http, rig.coupa))["id"])
    key = f"{SIM_CONNECTION}:invoice:{invoice['id']}"
    assert (await rig.settle([invoice]))[key] == "posted"

    page = await signed_in(browser, console_rig, CONSOLE_USER, console_rig.login.password)
    await page.goto(f"{console_rig.url}/records?invoice_number={quote(invoice['invoice-number'])}")
    await page.get_by_role("checkbox", name=f"Pick {invoice['invoice-number']}").check()
    await page.get_by_role("button", name="Replay the picked records").click()
    await expect(page.get_by_text("Would send PostApInvoice")).to_be_visible()
    await snap(page, "replay-dry-run")
    assert await rig.fetchval("SELECT count(*) FROM audit_events WHERE event = 'replayed'") == 0
    await page.get_by_role("button", name="Replay 1 record(s) now").click()
    await expect(page.get_by_role("status")).to_contain_text("1 record(s) replayed.")
    followed = page.get_by_role("row").filter(has_text=invoice["invoice-number"])
    await expect(followed).to_contain_text("posted")
    await snap(page, "replay-done")
    await followed.get_by_role("link", name=invoice["invoice-number"]).click()
    await expect(page.get_by_role("heading", name="What Deltek answered")).to_be_visible()
    await snap(page, "record-posted")

    async def republished() -> bool:
        events = await rig.fetchval(
            "SELECT count(*) FROM audit_events WHERE record_key = $1 AND event = $2",
            key,
            "result_republished",
        )
        return bool(events)

    await eventually(republished, within=60, what="the poster answering the replayed command")
    verdict = await rig.verdict([invoice], {key: "posted"})
    assert verdict.ok, (verdict.line(), verdict.problems)


async def test_a_viewer_sees_no_forms_and_a_forged_post_is_refused(browser, console_rig):
    page = await signed_in(browser, console_rig, VIEWER, VIEWER_PASSWORD)
    key = await console_rig.rig.fetchval("SELECT record_key FROM records LIMIT 1")
    for path in (
        "/",
        "/records?state=posted",
        f"/records/{quote(key)}",
        "/exceptions",
        f"/replay?key={quote(key)}",
    ):
        await page.goto(console_rig.url + path)
        await expect(page.locator("form[method=post]:not(.sign-out)")).to_have_count(0)
        await expect(page.get_by_role("checkbox")).to_have_count(0)
    token = await page.locator("form.sign-out input[name=csrf]").get_attribute("value")
    answer = await page.context.request.post(
        f"{console_rig.url}/replay", form={"csrf": token or "", "key": key}, max_redirects=0
    )
    assert answer.status == 403
    assert "needs the operator role" in await answer.text()


async def test_a_form_without_its_csrf_token_is_refused(browser, console_rig):
    page = await signed_in(browser, console_rig, CONSOLE_USER, console_rig.login.password)
    key = await console_rig.rig.fetchval("SELECT record_key FROM records LIMIT 1")
    await page.goto(f"{console_rig.url}/replay?key={quote(key)}")
    await page.locator("form[action='/replay'] input[name=csrf]").evaluate("i => i.remove()")
    async with page.expect_response(f"{console_rig.url}/replay") as answered:
        await page.get_by_role("button", name=re.compile("^Replay")).click()
    assert (await answered.value).status == 403
    await expect(page.get_by_role("alert")).to_contain_text("did not come from the console")
    await snap(page, "csrf-refused")


async def test_a_csv_imported_on_the_mappings_page_closes_a_coverage_gap(browser, console_rig):
    rig = console_rig.rig
    invoice, vendor, key = await parked_invoice(rig)
    supplier = str(invoice["supplier"]["id"])

    page = await signed_in(browser, console_rig, CONSOLE_USER, console_rig.login.password)
    await page.get_by_role("link", name="Mappings").click()
    await page.get_by_role("link", name="Coverage: what still lacks a map").click()
    gap = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Map {supplier}"))
    await expect(gap).to_contain_text(key)  # the parked record waits for it
    lacking = page.locator("td[data-kind=supplier]")
    before = int(await lacking.inner_text())
    await snap(page, "coverage")

    await page.get_by_role("link", name="Back to the mappings").click()
    await page.get_by_label("Coupa or Deltek value contains").fill(vendor)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("table").get_by_role("caption")).to_contain_text("map(s) of")
    csv_file = FilePayload(
        name="suppliers.csv",
        mimeType="text/csv",
        buffer=f"coupa_value,deltek_value\n{supplier},{vendor}\n".encode(),
    )
    await page.get_by_label(f"CSV file of {SIM_CONNECTION} suppliers").set_input_files(csv_file)
    await snap(page, "mappings")
    await page.get_by_role("button", name="Import").click()
    await expect(page.get_by_role("status")).to_contain_text("1 waiting record(s) go on.")
    await expect(
        page.get_by_role("row").filter(has_text=invoice["invoice-number"])
    ).to_contain_text("posted", timeout=60_000)
    audited = await rig.fetchval(
        "SELECT details->>'user' FROM audit_events WHERE record_key = $1 AND event = $2",
        key,
        "mapping_set",
    )
    assert audited == CONSOLE_USER

    await page.goto(f"{console_rig.url}/mappings/coverage")
    await expect(page.get_by_role("link", name=f"Map {supplier}")).to_have_count(0)
    assert int(await lacking.inner_text()) == before - 1
    await snap(page, "coverage-after-import")
    await page.goto(f"{console_rig.url}/mappings?q={quote(supplier)}")
    mapped = page.get_by_role("rowheader", name=supplier, exact=True)
    await expect(page.get_by_role("row").filter(has=mapped)).to_contain_text(
        f"console:{CONSOLE_USER}"
    )
    export = page.get_by_role("link", name=re.compile("^Export .* suppliers as CSV"))
    exported = await page.context.request.get(
        console_rig.url + (await export.get_attribute("href") or "")
    )
    assert f"\n{supplier},{vendor}\n" in await exported.text()


def now() -> datetime:
    return datetime.now(UTC)


async def test_a_voided_invoice_is_acknowledged_in_the_browser_and_connections_shown(
    browser, console_rig
):
    rig = console_rig.rig
    async with aiohttp.ClientSession() as http:
        invoice = await approve(http, rig.coupa, (await create_invoice(http, rig.coupa))["id"])
        key = f"{SIM_CONNECTION}:invoice:{invoice['id']}"
        assert (await rig.settle([invoice]))[key] == "posted"
        # Coupa's versions are its second-precision updated-at: a void within the second of
        # the approval would be the same version, so let the clock move on first.
        approved_at = datetime.fromisoformat(invoice["updated-at"])
        await asyncio.sleep(
            max(0.0, (approved_at + timedelta(seconds=1.1) - now()).total_seconds())
        )
        async with http.post(f"{rig.coupa}/_admin/invoices/{invoice['id']}/void") as voided:
            voided.raise_for_status()

    async def flagged() -> bool:
        return await rig.fetchval(NEWEST_STATE, key) == "flagged"

    await eventually(flagged, within=60, what="the mapper flagging the voided invoice")
    page = await signed_in(browser, console_rig, CONSOLE_USER, console_rig.login.password)
    await page.get_by_role("link", name="Flagged").click()
    item = page.locator("section.panel").filter(has=page.get_by_role("link", name=key))
    await item.get_by_label("Note: what is being done about it").fill("reversing it in Deltek")
    await snap(page, "flagged")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text(f"{key} acknowledged.")
    await expect(page.get_by_role("link", name=key)).to_have_count(0)
    assert await rig.fetchval(NEWEST_STATE, key) == "flagged"
    audited = await rig.fetchval(
        "SELECT details->>'user' || ': ' || (details->>'note') FROM audit_events"
        " WHERE record_key = $1 AND event = 'acknowledged'",
        key,
    )
    assert audited == f"{CONSOLE_USER}: reversing it in Deltek"

    await page.get_by_role("link", name="Connections").click()
    await expect(
        page.get_by_role("heading", name=re.compile(f"^{SIM_CONNECTION} live"))
    ).to_be_visible()
    await snap(page, "connections")


async def test_many_wrong_passwords_are_limited(browser, console_rig):
    """Last in the module: it uses up this address's sign-in attempts."""
    page = await (await browser.new_context()).new_page()
    statuses = []
    for _ in range(6):
        await page.goto(f"{console_rig.url}/sign-in")
        await page.get_by_label("User name").fill(VIEWER)
        await page.get_by_label("Password").fill("not the password")
        async with page.expect_response(f"{console_rig.url}/sign-in") as answered:
            await page.get_by_role("button", name="Sign in").click()
        statuses.append((await answered.value).status)
    assert statuses == [401] * 5 + [429]
    await expect(page.get_by_role("alert")).to_contain_text("Too many wrong passwords")
