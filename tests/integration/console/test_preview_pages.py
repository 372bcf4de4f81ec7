"""The Go-live preview page over HTTP on real Postgres, against the real simulators: an operator
starts ``connector preview`` from the console, sees its summary and reads its report; only the
report's own files are served; without a master key the page says so."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.connections.conftest import start_sims
from tests.integration.console.test_connections_pages import keyed, store
from tests.integration.console.test_pages import action_forms, fetchval, page

pytestmark = pytest.mark.integration
__all__ = ["keyed", "start_sims"]  # fixtures used here too


async def finished(console, within: float = 120) -> str:
    """The preview page once no preview runs any more."""
    async with asyncio.timeout(within):
        while True:
            html = await page(console, "/preview")
            if "Running…" not in html:
                return html
            await asyncio.sleep(0.5)


async def test_an_operator_makes_a_preview_and_reads_its_report(
    keyed, db_url, tmp_path, start_sims
):
    await store(db_url, tmp_path, await start_sims())
    await keyed.sign_in("otto")
    assert "No preview made from the console yet." in await page(keyed, "/preview")
    status, location = await keyed.post("/preview/acme", {}, token_from="/preview")
    assert (status, location) == (303, "/preview")
    html = await finished(keyed)
    assert "Started by otto on" in html
    assert '<p class="note" role="status">preview: ' in html, html
    assert "invoices would post" in html
    assert '<a href="/preview/acme/report.html">The report</a>' in html
    async with keyed.client.get("/preview/acme/report.html") as report:
        assert report.status == 200
        assert "<h1>Go-live preview: acme</h1>" in await report.text()
        assert report.headers["Content-Security-Policy"].startswith("default-src 'self'")
    async with keyed.client.get("/preview/acme/invoices.csv") as invoices:
        assert (await invoices.text()).startswith("coupa_id,invoice_number")
    audit = await fetchval(
        db_url,
        "SELECT service || ' ' || (details->>'user') FROM audit_events"
        " WHERE event = 'preview_started'",
    )
    assert audit == "console:otto otto"


@pytest.mark.parametrize(
    "path",
    ["/preview/acme/run.json", "/preview/acme/run.log", "/preview/..%2F..%2Fstate/x.csv",
     "/preview/acme/..%2Frun.json", "/preview/nobody/report.html"],
)  # fmt: skip
async def test_only_the_report_files_are_served(keyed, path):
    await keyed.sign_in("vera")
    async with keyed.client.get(path) as answer:
        assert answer.status == 404


async def test_a_viewer_reads_but_cannot_start_and_a_tokenless_form_is_refused(
    keyed, db_url, tmp_path, start_sims
):
    await store(db_url, tmp_path, await start_sims())
    await keyed.sign_in("vera")
    assert action_forms(await page(keyed, "/preview")) == []
    assert (await keyed.post("/preview/acme", {}, token_from="/preview"))[0] == 403
    await keyed.sign_in("otto")
    async with keyed.client.post("/preview/acme", allow_redirects=False) as answer:
        assert answer.status == 403
    assert "No preview made from the console yet." in await page(keyed, "/preview")


async def test_without_the_master_key_the_page_says_so(console, db_url, tmp_path, start_sims):
    await store(db_url, tmp_path, await start_sims())
    await console.sign_in("otto")
    html = await page(console, "/preview")
    assert "This console has no master key" in html
    assert action_forms(html) == []
    status, answer = await console.post("/preview/acme", {}, token_from="/preview")
    assert status == 503 and "no master key" in answer
