"""The Mappings and Coverage pages over HTTP on real Postgres: list, set, import, export, and
who may do which; every change written the way ``connector mappings import`` writes it."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs, urlsplit

import aiohttp
import asyncpg
import orjson
import pytest

from shared.mappings import CHANNEL
from shared.mappings_csv import parse_csv
from tests.integration.console.seed import CONNECTION, seed
from tests.unit.mapper.builders import SETTINGS

pytestmark = pytest.mark.integration

SUPPLIERS = f"/mappings?connection={CONNECTION}&kind=suppliers"
GOOD = "coupa_value,deltek_value\n217,VEND01\n 300 , NEWVEND \n"
BAD = "coupa_value,deltek_value\n217,VEND01\n301,\n217,VEND02\n302,A,B\n"


async def fetch(db_url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def stored(db_url: str) -> list[tuple[str, str, str, str]]:
    rows = await fetch(
        db_url,
        "SELECT kind, coupa_value, deltek_value, source FROM mappings ORDER BY kind, coupa_value",
    )
    return [tuple(row) for row in rows]


@pytest.fixture
async def seeded(db_url):
    """The console's seed (invoices 3 and 4 parked waiting for supplier 217) and the stored
    connection, so its records can be mapped again for coverage."""
    await seed(db_url)
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(
            "INSERT INTO connections (name, settings) VALUES ($1, $2::jsonb)",
            CONNECTION,
            SETTINGS.model_dump_json(include={"mapping", "deltek"}),
        )
    finally:
        await conn.close()
    return db_url


async def map_trail(db_url: str) -> list[tuple[str, dict[str, object]]]:
    """The supplier maps' own audit trail: who changed them, and from what to what."""
    rows = await fetch(
        db_url,
        "SELECT service, details FROM audit_events WHERE record_key = 'acme:mappings:supplier' "
        "AND event = 'mappings_set' ORDER BY id",
    )
    return [(row["service"], orjson.loads(row["details"])) for row in rows]


async def page(console, path: str) -> str:
    async with console.client.get(path) as answer:
        assert answer.status == 200, path
        return await answer.text()


async def upload(
    console, text: str, *, kind: str = "suppliers", token: bool = True
) -> tuple[int, str]:
    """POST ``text`` as a CSV file to the import form, as a browser sends it."""
    form = aiohttp.FormData()
    if token:
        form.add_field("csrf", await console.csrf(SUPPLIERS))
    form.add_field("connection", CONNECTION)
    form.add_field("kind", kind)
    form.add_field("file", text.encode(), filename="maps.csv", content_type="text/csv")
    async with console.client.post("/mappings/import", data=form, allow_redirects=False) as answer:
        return answer.status, answer.headers.get("Location", "") or await answer.text()


def note_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["note"][0]


async def set_map(console, coupa_value: str, deltek_value: str) -> tuple[int, str]:
    """POST one supplier map of CONNECTION from the mappings page's form."""
    return await console.post(
        "/mappings",
        {
            "connection": CONNECTION,
            "kind": "suppliers",
            "coupa_value": coupa_value,
            "deltek_value": deltek_value,
        },
        token_from=SUPPLIERS,
    )


async def test_a_good_csv_is_imported_audited_with_the_user_and_the_mapper_told(console, seeded):
    listener = await asyncpg.connect(seeded)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[-1]))
    try:
        await console.sign_in("otto")
        status, location = await upload(console, GOOD)
        assert status == 303
        assert await asyncio.wait_for(heard.get(), 5) == CONNECTION
    finally:
        await listener.close()
    # Both records waiting for supplier 217 go on, followed on the watch page.
    assert location.startswith("/watch?key=acme%3Ainvoice%3A3&key=acme%3Ainvoice%3A4&")
    assert note_of(location) == (
        "acme suppliers: 2 added, 0 changed, 0 unchanged; 2 waiting record(s) go on. "
        "Not in the Deltek vendor cache (set anyway, the cache may be older than the map): "
        "NEWVEND (for 300)."
    )
    assert await stored(seeded) == [
        ("supplier", "217", "VEND01", "console:otto"),
        ("supplier", "300", "NEWVEND", "console:otto"),
    ]
    audits = await fetch(
        seeded,
        "SELECT record_key, service, details->>'user', details->>'deltek_value' "
        "FROM audit_events WHERE event = 'mapping_set' ORDER BY record_key",
    )
    assert [tuple(a) for a in audits] == [
        ("acme:invoice:3", "console:otto", "otto", "VEND01"),
        ("acme:invoice:4", "console:otto", "otto", "VEND01"),
    ]
    assert await map_trail(seeded) == [
        (
            "console:otto",
            {
                "user": "otto",
                "kind": "supplier",
                "changes": [
                    {"coupa_value": "217", "from": None, "to": "VEND01"},
                    {"coupa_value": "300", "from": None, "to": "NEWVEND"},
                ],
            },
        )
    ]


async def test_a_bad_csv_names_each_bad_line_and_changes_nothing(console, seeded):
    await console.sign_in("otto")
    assert (await upload(console, "coupa_value,deltek_value\n217,VEND02\n"))[0] == 303
    before = await stored(seeded)
    status, html = await upload(console, BAD)
    assert status == 400
    problems = re.findall(r"<li>(line [^<]*)</li>", html)
    assert problems == [
        "line 3: deltek_value is empty",
        "line 4: 217 is already mapped on line 2",
        "line 5: expected 2 values, found 3",
    ]
    assert "maps.csv was not imported:" in html
    assert await stored(seeded) == before  # line 2 alone was good: it is not applied either
    status, html = await upload(console, "supplier,vendor\n217,VEND01\n")
    assert status == 400
    assert "line 1: the header must be coupa_value,deltek_value" in html
    assert await stored(seeded) == before


async def test_export_is_the_file_import_takes_back(console, seeded):
    await console.sign_in("otto")
    awkward = 'coupa_value,deltek_value\n217,VEND01\n"Smith, Jones & Co",VEND01\n'
    assert (await upload(console, awkward))[0] == 303
    async with console.client.get(f"/mappings/export?connection={CONNECTION}&kind=suppliers") as a:
        assert a.status == 200
        assert a.content_type == "text/csv"
        assert 'filename="acme-suppliers.csv"' in a.headers["Content-Disposition"]
        exported = await a.text()
    assert parse_csv(exported) == [("217", "VEND01"), ("Smith, Jones & Co", "VEND01")]
    status, location = await upload(console, exported)
    assert status == 303
    assert note_of(location).startswith("acme suppliers: 0 added, 0 changed, 2 unchanged;")
    assert len(await map_trail(seeded)) == 1  # what changed nothing is not in the trail
    accounts = f"/mappings/export?connection={CONNECTION}&kind=accounts"
    assert parse_csv(await page(console, accounts)) == []


async def test_the_page_lists_each_kind_with_who_set_it_and_an_edit_changes_one(console, seeded):
    await console.sign_in("otto")
    assert (await upload(console, "coupa_value,deltek_value\n217,VEND02\n"))[0] == 303
    assert (await upload(console, "coupa_value,deltek_value\n5400,511.00\n", kind="accounts"))[
        0
    ] == 303
    html = await page(console, SUPPLIERS)
    assert "1 map(s) of Coupa suppliers to a Deltek vendor" in html
    assert re.search(r'<th scope="row">217</th>.*value="VEND02".*console:otto', html, re.S)
    assert "5400" not in html
    assert '<option value="VEND01">Wiley Partners</option>' in html  # type-ahead from the cache
    assert "511.00" in await page(console, f"/mappings?connection={CONNECTION}&kind=accounts")
    assert "217" not in await page(console, SUPPLIERS + "&q=nothing-like-it")

    status, location = await set_map(console, "217", "")
    assert status == 400
    assert "Give both the Coupa value and the Deltek value." in location
    status, location = await set_map(console, "217", "VEND01")
    assert status == 303
    assert note_of(location) == (
        "acme suppliers: 0 added, 1 changed, 0 unchanged; 2 waiting record(s) go on."
    )
    assert ("supplier", "217", "VEND01", "console:otto") in await stored(seeded)
    assert (await map_trail(seeded))[-1][1]["changes"] == [
        {"coupa_value": "217", "from": "VEND02", "to": "VEND01"}
    ]


async def test_a_viewer_reads_and_exports_but_every_post_is_refused(console, seeded):
    await console.sign_in("otto")
    assert (await upload(console, "coupa_value,deltek_value\n217,VEND02\n"))[0] == 303
    before = await stored(seeded)
    await console.sign_in("vera")
    html = await page(console, SUPPLIERS)
    assert "VEND02" in html
    assert 'method="post" action="/mappings' not in html
    assert "VEND02" in await page(
        console, f"/mappings/export?connection={CONNECTION}&kind=suppliers"
    )
    status, _ = await set_map(console, "217", "VEND01")
    assert status == 403
    status, html = await upload(console, GOOD)
    assert status == 403
    assert "needs the operator role" in html
    assert await stored(seeded) == before


async def test_an_import_without_its_csrf_token_is_refused(console, seeded):
    await console.sign_in("otto")
    status, html = await upload(console, GOOD, token=False)
    assert status == 403
    assert "did not come from the console" in html
    assert await stored(seeded) == []


async def test_an_unknown_connection_or_kind_is_refused(console, seeded):
    await console.sign_in("otto")
    async with console.client.get("/mappings?connection=nobody") as answer:
        assert answer.status == 404
    async with console.client.get(f"/mappings?connection={CONNECTION}&kind=vendors") as answer:
        assert answer.status == 400
    status, _ = await console.post(
        "/mappings",
        {"connection": "nobody", "kind": "suppliers", "coupa_value": "1", "deltek_value": "V"},
        token_from=SUPPLIERS,
    )
    assert status == 404
    assert await stored(seeded) == []


def lacking(html: str, kind: str) -> int:
    found = re.search(rf'data-kind="{kind}">(\d+)<', html)
    assert found, kind
    return int(found.group(1))


async def test_coverage_shows_what_lacks_a_map_and_a_map_closes_it(console, seeded):
    coverage = f"/mappings/coverage?connection={CONNECTION}"
    await console.sign_in("vera")
    html = await page(console, coverage)
    assert "4 invoice(s) stored, 2 parked" in html
    assert (lacking(html, "supplier"), lacking(html, "account")) == (5, 1)
    assert re.search(
        r"201 <span[^>]*>Coupa supplier V-00211 \(Acme Travel\)</span></td>\s*"
        r'<td class="num">1</td>',
        html,
    )
    # Supplier 217 holds up no stored invoice, but the two parked records wait for it.
    assert re.search(
        r'217 <span.*?<td class="num">0</td>\s*<td>2 <a href="/records/acme%3Ainvoice%3A3"',
        html,
        re.S,
    )
    assert "kind=accounts&amp;coupa_value=10-5400-1#add-map" in html

    await console.sign_in("otto")
    assert (await upload(console, "coupa_value,deltek_value\n201,VEND01\n"))[0] == 303
    html = await page(console, coverage)
    assert lacking(html, "supplier") == 4
    assert "Map 201" not in html
    async with console.client.get("/mappings/coverage?connection=nobody") as answer:
        assert answer.status == 404
