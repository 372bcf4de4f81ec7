"""The Vendor changes page over HTTP on real Postgres: the firm writes a connection in preview
mode held back, field by field, and the latest writes; read-only for every role."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from services.poster.vendor_plan import FieldChange
from shared.db.pool import create_pool
from shared.kafka.envelope import Envelope
from shared.records import record_received, transition
from tests.integration.console.test_pages import action_forms, page

pytestmark = pytest.mark.integration

# As the poster records them (services/poster/report.py: would_sync, _finish).
CHANGES = [
    FieldChange("firm", "Name", "Wiley & Sons", "Wiley Partners <Ltd>"),
    FieldChange("vendor accounting", "PayTerms", "N30", "PWP"),
]


def supplier(coupa_id: int, name: str, number: str) -> Envelope:
    body = {"id": coupa_id, "name": name, "number": number, "updated-at": "2026-11-01T10:00:00Z"}
    return Envelope(
        schema="SupplierChanged",
        connection="acme",
        key=f"acme:supplier:{coupa_id}",
        source="poll",
        payload={"supplier": body},
    )


async def seed_vendors(db_url: str) -> None:
    """Supplier 7 held back by preview mode; supplier 8 synced (its firm updated)."""
    pool = await create_pool(db_url)
    try:
        async with pool.acquire() as conn:
            for coupa_id, name, number, state, event, details in (
                (7, "Wiley", "V-7", "previewed", "would_sync",
                 {"would": "update the vendor firm", "changes": [asdict(c) for c in CHANGES]}),
                (8, "Acme Travel", "V-8", "posted", "vendor_synced",
                 {"outcome": "updated", "client_id": "C8", "vendor": "VEND08",
                  "changed": ["PayTerms"]}),
            ):  # fmt: skip
                record_id, _ = await record_received(
                    conn, supplier(coupa_id, name, number), None, service="mapper"
                )
                await transition(
                    conn,
                    record_id=record_id,
                    record_key=f"acme:supplier:{coupa_id}",
                    state=state,
                    service="poster",
                    event=event,
                    details=details,
                )
    finally:
        await pool.close()


async def test_held_back_firm_writes_are_shown_field_by_field(console, db_url):
    await seed_vendors(db_url)
    await console.sign_in("otto")
    html = await page(console, "/vendors")
    assert "Wiley (V-7): would update the vendor firm</h3>" in html
    assert (
        "<tr><td>firm</td><td>Name</td><td>Wiley &amp; Sons</td>"
        "<td>Wiley Partners &lt;Ltd&gt;</td></tr>" in html
    )
    assert "<td>vendor accounting</td><td>PayTerms</td><td>N30</td><td>PWP</td>" in html
    assert (
        "Acme Travel (V-8)</td>\n        <td>updated</td><td>C8/VEND08</td><td>PayTerms</td>"
        in html
    )
    assert "nothing to approve here" in html
    assert action_forms(html) == []  # read-only, for an operator too


async def test_with_nothing_held_back_or_written_the_page_says_so(console):
    await console.sign_in("vera")
    html = await page(console, "/vendors")
    assert "No firm write is held back." in html
    assert "Vendor sync has written no firm yet." in html
