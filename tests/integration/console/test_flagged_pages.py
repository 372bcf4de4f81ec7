"""Flagged invoices in the console over HTTP on real Postgres: acknowledging one (roles, CSRF,
audit), and the queue and the overview counting only those nobody acknowledged."""

from __future__ import annotations

import re

import asyncpg
import pytest

from shared.db.pool import create_pool
from shared.records import record_received, transition
from tests.integration.console.seed import invoice, seed
from tests.integration.console.test_pages import action_forms, fetchval, page

pytestmark = pytest.mark.integration

KEY = "acme:invoice:5"
REASON = "changed in Coupa after it was posted: total 50.00 -> 55.00"
NOTE = "asked Wiley for a credit note"


async def flag(db_url: str, updated_at: str = "2026-11-02T10:00:00Z") -> None:
    """A version of invoice 5, changed in Coupa at ``updated_at`` after it was posted, flagged
    as the mapper flags it."""
    envelope = invoice(5, "WIL-5", "Wiley", "55.00", "PO-9")
    envelope.payload["invoice"]["updated-at"] = updated_at
    pool = await create_pool(db_url)
    try:
        async with pool.acquire() as conn:
            record_id, _ = await record_received(conn, envelope, None, service="mapper")
            await transition(
                conn,
                record_id=record_id,
                record_key=KEY,
                state="flagged",
                service="mapper",
                event="flagged",
                details={"reason": REASON},
                reason=REASON,
            )
    finally:
        await pool.close()


async def acknowledge(console, key: str = KEY, note: str = NOTE) -> tuple[int, str]:
    return await console.post(
        "/flagged/acknowledge", {"key": key, "note": note}, token_from="/flagged"
    )


async def test_an_operator_acknowledges_a_flagged_invoice_and_it_leaves_the_queue(console, db_url):
    await seed(db_url)
    await flag(db_url)
    await console.sign_in("otto")
    listed = await page(console, "/flagged")
    assert f">{KEY}</a>" in listed and REASON.replace(">", "&gt;") in listed
    assert f"Flagged: {REASON}".replace(">", "&gt;") in await page(console, "/exceptions")
    assert re.search(r"state-flagged\">flagged</span></th>\s*<td class=\"num\"><a [^>]*>1</a>",
                     await page(console, "/"))  # fmt: skip

    assert await acknowledge(console) == (303, "/flagged?done=acme%3Ainvoice%3A5")

    conn = await asyncpg.connect(db_url)
    try:
        event = await conn.fetchrow(
            "SELECT service, details::text AS details, record_id FROM audit_events"
            " WHERE event = 'acknowledged'"
        )
        state = await conn.fetchval("SELECT state FROM records WHERE record_key = $1", KEY)
    finally:
        await conn.close()
    assert event is not None
    assert event["service"] == "console:otto"
    assert '"user": "otto"' in event["details"] and NOTE in event["details"]
    assert state == "flagged"  # acknowledged, not resolved
    assert f">{KEY}</a>" not in await page(console, "/flagged")
    everything = await page(console, "/flagged?all=1")
    assert "Acknowledged by <strong>otto</strong> on" in everything and NOTE in everything
    assert "Flagged:" not in await page(console, "/exceptions")
    assert "state-flagged" not in await page(console, "/")


async def test_a_second_acknowledgement_or_one_of_a_record_not_flagged_is_refused(console, db_url):
    await seed(db_url)
    await flag(db_url)
    await console.sign_in("ada")
    assert (await acknowledge(console))[0] == 303
    assert (await acknowledge(console))[0] == 409
    assert (await acknowledge(console, key="acme:invoice:2"))[0] == 409  # posted
    status, html = await acknowledge(console, note="  ")
    assert status == 400 and "Say in a note" in html
    assert (
        await fetchval(db_url, "SELECT count(*) FROM audit_events WHERE event = 'acknowledged'")
        == 1
    )


async def test_a_newer_version_flagged_again_needs_its_own_acknowledgement(console, db_url):
    await flag(db_url)
    await console.sign_in("otto")
    assert (await acknowledge(console))[0] == 303
    await flag(db_url, "2026-11-03T10:00:00Z")  # changed once more: a new version, flagged
    assert f">{KEY}</a>" in await page(console, "/flagged")


async def test_a_viewer_cannot_acknowledge_and_a_form_without_its_token_is_refused(console, db_url):
    await flag(db_url)
    await console.sign_in("vera")
    assert action_forms(await page(console, "/flagged")) == []
    assert (await acknowledge(console))[0] == 403
    await console.sign_in("otto")
    form = {"key": KEY, "note": NOTE}
    async with console.client.post("/flagged/acknowledge", data=form) as answer:
        assert answer.status == 403
    assert (
        await fetchval(db_url, "SELECT count(*) FROM audit_events WHERE event = 'acknowledged'")
        == 0
    )
