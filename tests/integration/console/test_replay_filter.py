"""Replay by filter over HTTP on real Postgres and broker: the filter picks, the dry run shows
exactly those records, confirming sends them and audits the user; bad filters say why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.integration.console.seed import seed
from tests.integration.console.test_pages import action_forms, fetchval, page
from tests.support import read_topic

pytestmark = pytest.mark.integration


def picked(html: str) -> list[str]:
    """The record keys the dry run would send (its confirm form's hidden fields)."""
    return sorted(
        part.split('"')[0] for part in html.split('<input type="hidden" name="key" value="')[1:]
    )


async def test_a_filter_picks_by_state_and_connection_then_sends_on_confirm(
    console, db_url, kafka_bootstrap, topics
):
    await seed(db_url)
    await console.sign_in("otto")
    form = await page(console, "/replay")
    assert 'name="state"' in form and "Show the dry run" in form
    dry = await page(console, "/replay?state=parked&connection=acme&date_from=&date_to=")
    assert picked(dry) == ["acme:invoice:3", "acme:invoice:4"]
    assert "Would send <strong>InvoiceApproved</strong>" in dry
    assert picked(await page(console, "/replay?state=parked&connection=other")) == []
    assert await read_topic(kafka_bootstrap, topics.coupa_invoices, expect=1, within=1) == []

    status, location = await console.post(
        "/replay",
        {"key": "acme:invoice:3"},
        token_from="/replay?state=parked&connection=acme",
    )
    assert status == 303 and location.startswith("/watch?key=acme%3Ainvoice%3A3&")
    sent = await read_topic(kafka_bootstrap, topics.coupa_invoices, expect=1)
    assert [orjson.loads(v)["key"] for v in sent] == ["acme:invoice:3"]
    assert (
        await fetchval(db_url, "SELECT service FROM audit_events WHERE event = 'replayed'")
        == "console:otto"
    )


async def test_the_date_range_takes_whole_days_with_the_last_included(console, db_url):
    await seed(db_url)
    await console.sign_in("vera")
    today = datetime.now(UTC).date()
    everything = f"/replay?date_from={today}&date_to={today}"
    assert len(picked(await page(console, everything))) == 0  # a viewer gets no confirm form
    assert "Replay 4 record(s)" in await page(console, everything)
    tomorrow = today + timedelta(days=1)
    assert "Replay 0 record(s)" in await page(console, f"/replay?date_from={tomorrow}")
    assert action_forms(await page(console, everything)) == []


async def test_a_filter_that_cannot_be_read_says_why(console, db_url):
    await seed(db_url)
    await console.sign_in("otto")
    async with console.client.get("/replay?state=lost&date_to=tomorrow") as answer:
        assert answer.status == 400
        html = await answer.text()
    assert "There is no state &#39;lost&#39; to replay." in html
    assert "The date &#39;tomorrow&#39; is not a date (YYYY-MM-DD)." in html


async def test_a_filter_picking_more_than_the_console_replays_is_refused(
    console, db_url, monkeypatch
):
    await seed(db_url)
    monkeypatch.setattr("services.console.pages.replay_filter.WATCH_LIMIT", 3)
    await console.sign_in("otto")
    async with console.client.get("/replay?connection=acme") as answer:
        assert answer.status == 400
        html = await answer.text()
    assert "More than 3 records match; the console replays at most 3 at once." in html
    assert picked(html) == []
