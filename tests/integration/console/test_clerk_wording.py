"""What a clerk reads on the console: reasons only where they still hold, suppliers and invoices
by the numbers and names the clerk knows, counts whose links show what they count, and a header
that stays on one row at 1280 px (found by a newcomer's first try)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from services.console.pages.watch import going_on
from shared.db.pool import create_pool
from shared.kafka.envelope import Envelope
from shared.records import record_received, transition
from tests.browser import launched_chromium
from tests.integration.console.conftest import PASSWORD
from tests.integration.console.seed import COMMAND, CONNECTION, invoice, seed
from tests.integration.console.test_pages import page
from tests.integration.console.test_reconciliation_page import store

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
RESOLVED = "Coupa supplier V-00215 (Wiley) has no Deltek vendor"


async def seed_more(db_url: str) -> None:
    """Besides the seed: WIL-5 parked for its vendor and then posted to VEND01 (its last error
    stays stored), and a supplier record that stays received (vendor creation is off)."""
    pool = await create_pool(db_url)
    try:
        async with pool.acquire() as conn:
            key = f"{CONNECTION}:invoice:5"
            record_id, _ = await record_received(
                conn, invoice(5, "WIL-5", "Wiley", "50.00", "PO-9"), None, service="mapper"
            )
            wait = {"kind": "supplier", "coupa_value": "205", "label": "Coupa supplier V-00215"}
            moves: list[dict[str, Any]] = [
                {"state": "parked", "reason": RESOLVED, "waiting_for": [wait]},
                {"state": "posted", "command": {**COMMAND, "vendor": "VEND01"}},
            ]
            for move in moves:
                await transition(
                    conn,
                    record_id=record_id,
                    record_key=key,
                    service="mapper",
                    event=move["state"],
                    details={},
                    **move,
                )
            supplier = Envelope(
                schema="SupplierChanged",
                connection=CONNECTION,
                key=f"{CONNECTION}:supplier:217",
                source="poll",
                payload={"supplier": {"id": 217, "name": "Wiley", "updated-at": "2026-11-01"}},
            )
            await record_received(conn, supplier, None, service="mapper")
    finally:
        await pool.close()


@pytest.fixture
async def seeded(db_url: str) -> None:
    await seed(db_url)
    await seed_more(db_url)


async def test_a_posted_record_shows_its_old_reason_only_as_resolved(console, seeded):
    await console.sign_in("vera")
    record = await page(console, "/records/acme%3Ainvoice%3A5")
    assert f'<dd class="muted">{RESOLVED} (resolved)</dd>' in record
    assert 'class="error"' not in record
    found = await page(console, "/records?invoice_number=WIL")
    assert f'<span class="muted">earlier: {RESOLVED} (resolved)</span>' in found
    # A record still parked shows its reason as it is: the reason it waits.
    assert "<td>Coupa supplier V-00217 (Wiley) has no Deltek vendor</td>" in found
    parked = await page(console, "/records/acme%3Ainvoice%3A3")
    assert 'Parked because</dt><dd class="error">Coupa supplier V-00217 (Wiley)' in parked


async def test_a_posted_record_names_its_deltek_vendor_and_currency(console, seeded):
    await console.sign_in("vera")
    record = await page(console, "/records/acme%3Ainvoice%3A5")
    assert "<dt>Deltek vendor</dt><dd>VEND01 (Wiley Partners)</dd>" in record
    assert "<dt>Gross total</dt><dd>50.00 USD</dd>" in record


async def test_a_parked_record_links_to_its_group_and_blames_no_line(console, seeded):
    await console.sign_in("vera")
    record = await page(console, "/records/acme%3Ainvoice%3A3")
    link = re.search(
        r'<a href="/exceptions#([\w-]+)">Fix Coupa supplier V-00217 \(Wiley\)</a> on the',
        record,
    )
    assert link, "no link to the record's group on the exceptions page"
    assert "not mapped" not in record
    assert "No Deltek lines yet" in record
    exceptions = await page(console, "/exceptions")
    assert '<li><a href="/records/acme%3Ainvoice%3A3">WIL-3</a></li>' in exceptions
    group = re.search(rf'<section[^>]* id="{link.group(1)}"[^>]*>\s*<h2[^>]*>([^<]*)', exceptions)
    assert group and "Coupa supplier V-00217 (Wiley)" in group.group(1)


async def test_the_fix_names_the_supplier_as_the_heading_does_and_hints_the_field(console, seeded):
    await console.sign_in("otto")
    html = await page(console, "/exceptions")
    assert "Map Coupa supplier V-00217 (Wiley) to the Deltek vendor</label>" in html
    hint = re.search(r'aria-describedby="(fix-hint-\d+)"', html)
    assert hint
    assert (
        f'id="{hint.group(1)}" class="muted hint">Deltek vendor number; type a name to search'
        in html
    )


async def test_the_overview_counts_suppliers_apart_and_every_link_shows_its_count(console, seeded):
    await console.sign_in("vera")
    html = await page(console, "/")
    invoices = html[html.index("Invoices by state") : html.index("Supplier records by state")]
    assert "state-received" not in invoices
    links = re.findall(r'<a href="(/records\?[^"]+)">(\d+)</a>', html)
    assert len(links) >= 4  # failed, parked, posted invoices; received suppliers
    for href, count in links:
        listed = await page(console, href.replace("&amp;", "&"))
        shown = re.search(r"<caption>(\d+) (invoice|supplier record)", listed)
        assert shown and shown.group(1) == count, href
    assert "kind=supplier&amp;state=received" in html


async def test_the_oldest_parked_and_followed_records_show_invoice_numbers(console, seeded):
    await console.sign_in("vera")
    overview = await page(console, "/")
    assert '<a href="/records/acme%3Ainvoice%3A3">WIL-3</a> of Wiley, parked' in overview
    watch = await page(console, "/watch?key=acme:invoice:3&key=acme:invoice:2&note=n&since=0")
    assert '">WIL-3</a></td><td>Wiley</td>' in watch
    assert '">INV-2</a></td><td>Acme Travel</td>' in watch
    assert ">acme:invoice:" not in watch
    assert "They have stopped changing" in watch
    assert "record(s)" not in watch
    assert [going_on(n) for n in (0, 1, 2)] == [
        "no invoice was waiting for it.",
        "1 invoice goes on.",
        "2 invoices go on.",
    ]


async def test_reconciliation_shows_classes_in_words(console, db_url):
    await store(db_url)
    await console.sign_in("vera")
    listing = await page(console, "/reconciliation")
    detail = await page(console, "/reconciliation/acme/202611")
    for html in (listing, detail):
        assert "<td>Missing in Deltek</td>" in html
        assert "<td>In Deltek, not from Coupa</td>" in html
        assert "missing_in_deltek" not in html and "not_from_coupa" not in html


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}: tools/system-packages installs it")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with launched_chromium(chromium) as launched:
        yield launched


async def test_the_header_stays_on_one_row_at_1280_px(console, browser):
    tab = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await tab.goto(str(console.client.make_url("/sign-in")))
    await tab.get_by_label("User name").fill("ada")
    await tab.get_by_label("Password").fill(PASSWORD)
    await tab.get_by_label("Password").press("Enter")
    await tab.wait_for_selector("header .sign-out")
    brand = await tab.locator("header .brand").bounding_box()
    user = await tab.locator("header .sign-out").bounding_box()
    assert brand and user
    # On one row: the user and the button sit beside the brand, not under it.
    assert user["y"] < brand["y"] + brand["height"]
    assert user["x"] + user["width"] <= 1280
