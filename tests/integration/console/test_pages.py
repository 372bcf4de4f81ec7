"""The console's pages over HTTP, on real Postgres and broker: what each role sees and may do."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import orjson
import pytest

from shared.mappings import CHANNEL
from tests.integration.console.seed import CONNECTION, seed
from tests.support import read_topic

pytestmark = pytest.mark.integration

GROUP = "2 invoices wait for a Deltek vendor for Coupa supplier V-00217 (Wiley)"
FIX = {"connection": CONNECTION, "kind": "supplier", "coupa_value": "217"}


async def page(console, path: str) -> str:
    async with console.client.get(path) as answer:
        assert answer.status == 200, path
        return await answer.text()


def action_forms(html: str) -> list[str]:
    """The POST forms on a page other than signing out."""
    return [
        f for f in re.findall(r"<form[^>]*>", html) if 'method="post"' in f and "sign-out" not in f
    ]


async def fetchval(db_url: str, sql: str, *args: object) -> object:
    conn = await asyncpg.connect(db_url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def test_overview_counts_each_state_and_names_the_oldest_parked(console, db_url):
    await seed(db_url)
    await console.sign_in("vera")
    html = await page(console, "/")
    assert re.search(r"state-parked\">parked</span></th>\s*<td class=\"num\"><a [^>]*>2</a>", html)
    assert "WIL-3</a> of Wiley, parked" in html
    assert "Posted today (UTC)</dt><dd>1</dd>" in html
    assert 'INV-1</a>: <span class="error">mapper could not handle it' in html


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("invoice_number=wil", {"3", "4"}),
        ("supplier=Acme", {"1", "2"}),
        ("supplier=V-00211", {"1"}),
        ("po=PO-9", {"3", "4"}),
        ("amount=150", {"2"}),
        ("date_from=2026-11-02&date_to=2026-11-03", {"2", "3"}),
        ("state=parked&invoice_number=4", {"4"}),
    ],
)
async def test_records_are_found_by_each_field(console, db_url, query, found):
    await seed(db_url)
    await console.sign_in("vera")
    html = await page(console, f"/records?{query}")
    assert set(re.findall(r">acme:invoice:(\d+)</a>", html)) == found


async def test_a_search_that_cannot_be_read_says_why(console):
    await console.sign_in("vera")
    html = await page(console, "/records?amount=ten&date_from=yesterday")
    assert "The amount &#39;ten&#39; is not a number." in html
    assert "is not a date" in html


async def test_a_record_page_shows_lines_side_by_side_the_command_and_deltek_answer(
    console, db_url
):
    await seed(db_url)
    await console.sign_in("vera")
    html = await page(console, "/records/acme%3Ainvoice%3A2")
    lines = html[html.index('<table class="lines">') : html.index("</table>", html.index("lines"))]
    assert re.search(
        r"travel</td>.*10-5400-1.*PO-8.*150\.00</td>\s*<td>511\.00</td>\s*"
        r"<td>P100 / 1</td>\s*<td class=\"num\">100\.00",
        lines,
        re.S,
    )
    assert "charges and tax" in lines and "699.00" in lines
    assert "&#34;voucher&#34;: &#34;0000123&#34;" in html or '"voucher": "0000123"' in html
    assert html.count("<li><time") == 2  # received, posted
    assert (await console.client.get("/records/acme%3Ainvoice%3A99")).status == 404


async def test_the_queue_groups_by_what_records_wait_for(console, db_url):
    await seed(db_url)
    await console.sign_in("otto")
    html = await page(console, "/exceptions")
    assert GROUP in html
    # Type-ahead offers the active vendor only: an inactive one would park them again.
    assert '<option value="VEND01">Wiley Partners</option>' in html
    assert "VEND02" not in html


async def test_a_fix_maps_audits_with_the_user_and_tells_the_mapper(console, db_url):
    await seed(db_url)
    listener = await asyncpg.connect(db_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[-1]))
    try:
        await console.sign_in("otto")
        status, location = await console.post(
            "/exceptions/fix", {**FIX, "deltek_value": "VEND01"}, token_from="/exceptions"
        )
        assert status == 303
        assert location.startswith("/watch?key=acme%3Ainvoice%3A3&key=acme%3Ainvoice%3A4&")
        assert await asyncio.wait_for(heard.get(), 5) == CONNECTION
    finally:
        await listener.close()
    assert (
        await fetchval(
            db_url, "SELECT deltek_value || ' ' || source FROM mappings WHERE coupa_value = '217'"
        )
        == "VEND01 console:otto"
    )
    audits = await fetchval(
        db_url,
        "SELECT array_agg(record_key || ' ' || service || ' ' || (details->>'user') ORDER BY id)"
        " FROM audit_events WHERE event = 'mapping_set'",
    )
    assert audits == ["acme:invoice:3 console:otto otto", "acme:invoice:4 console:otto otto"]
    trail = await fetchval(
        db_url,
        "SELECT array_agg(record_key || ' ' || service || ' ' || details::text ORDER BY id)"
        " FROM audit_events WHERE event = 'mappings_set'",
    )
    assert trail == [  # the maps' own trail, as the mappings page leaves it
        'acme:mappings:supplier console:otto {"kind": "supplier", "user": "otto", "changes": '
        '[{"to": "VEND01", "from": null, "coupa_value": "217"}]}'
    ]
    watch = await page(console, location)
    assert '<meta http-equiv="refresh"' in watch  # both are still parked: the mapper resumes them
    assert (
        "Coupa supplier V-00217 (Wiley) of acme now maps to Deltek vendor VEND01; "
        "2 invoices go on." in watch
    )


async def test_a_fix_to_a_vendor_not_usable_is_refused_and_nothing_is_mapped(console, db_url):
    await seed(db_url)
    await console.sign_in("otto")
    status, html = await console.post(
        "/exceptions/fix", {**FIX, "deltek_value": "VEND02"}, token_from="/exceptions"
    )
    assert status == 400
    assert "VEND02 is not a usable Deltek vendor of acme; pick one from the list." in html
    assert await fetchval(db_url, "SELECT count(*) FROM mappings") == 0


async def test_a_viewer_sees_no_action_forms_and_a_forged_post_is_refused(console, db_url):
    await seed(db_url)
    await console.sign_in("vera")
    for path in (
        "/",
        "/records?state=parked",
        "/records/acme%3Ainvoice%3A3",
        "/exceptions",
        "/replay?key=acme%3Ainvoice%3A3",
    ):
        assert action_forms(await page(console, path)) == [], path
    assert 'type="checkbox"' not in await page(console, "/records?state=parked")
    status, _ = await console.post(
        "/exceptions/fix", {**FIX, "deltek_value": "VEND01"}, token_from="/exceptions"
    )
    assert status == 403
    status, _ = await console.post("/replay", {"key": "acme:invoice:3"}, token_from="/records")
    assert status == 403
    assert await fetchval(db_url, "SELECT count(*) FROM mappings") == 0


async def test_an_operator_form_without_its_token_is_refused(console, db_url):
    await seed(db_url)
    await console.sign_in("otto")
    form = {**FIX, "deltek_value": "VEND01"}
    async with console.client.post("/exceptions/fix", data=form, allow_redirects=False) as answer:
        assert answer.status == 403
    assert await fetchval(db_url, "SELECT count(*) FROM mappings") == 0


async def test_replay_shows_the_dry_run_then_sends_and_audits(
    console, db_url, kafka_bootstrap, topics
):
    await seed(db_url)
    await console.sign_in("ada")
    dry = await page(console, "/replay?key=acme%3Ainvoice%3A2&key=acme%3Ainvoice%3A3")
    assert (
        f"Would send <strong>PostApInvoice</strong> to <code>{topics.deltek_writes}</code>" in dry
    )
    assert (
        f"Would send <strong>InvoiceApproved</strong> to <code>{topics.coupa_invoices}</code>"
        in dry
    )
    assert await read_topic(kafka_bootstrap, topics.deltek_writes, expect=1, within=1) == []

    status, location = await console.post(
        "/replay", {"key": "acme:invoice:2"}, token_from="/replay?key=acme%3Ainvoice%3A2"
    )
    assert status == 303
    assert location.startswith("/watch?key=acme%3Ainvoice%3A2&")
    sent = await read_topic(kafka_bootstrap, topics.deltek_writes, expect=1)
    assert [orjson.loads(v)["key"] for v in sent] == ["acme:invoice:2"]
    assert (
        await fetchval(db_url, "SELECT service FROM audit_events WHERE event = 'replayed'")
        == "console:ada"
    )
