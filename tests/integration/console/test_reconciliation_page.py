"""The Reconciliation page: the latest run of each period with its totals, a period's findings
escaped, links to the records, nothing to submit, and a period never reconciled is a 404."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest

from shared.db.pool import init_connection
from shared.reconcile.model import Finding, Kind
from shared.reconcile.results import save_run
from tests.integration.console.test_pages import action_forms

pytestmark = pytest.mark.integration


async def store(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    await init_connection(conn)
    try:
        old = [Finding(Kind.POSTED_TWICE, "OLD-1", "V1", coupa_amount=Decimal("1.00"))]
        await save_run(conn, "acme", 202611, closed=True, findings=old)
        findings = [
            Finding(Kind.MATCHED, "00217-48000", "000002", 48000, Decimal("10.00"), currency="USD"),
            Finding(
                Kind.MISSING_IN_DELTEK,
                "00212-48002",
                "Meridian <script>alert(1)</script>",
                48002,
                Decimal("324.11"),
                currency="USD",
                connector_state="parked",
                detail="connector: parked: No Deltek vendor",
            ),
            Finding(
                Kind.NOT_FROM_COUPA,
                "HAND-0001",
                "000005",
                deltek_amount=Decimal("28481.37"),
                vouchers=("000021 in AP-HAND-0001",),
                detail="keyed in Deltek: no Coupa invoice has it",
            ),
        ]
        await save_run(conn, "acme", 202611, closed=True, findings=findings)
    finally:
        await conn.close()


async def test_a_viewer_reads_the_latest_run_and_a_periods_findings(console, db_url):
    await store(db_url)
    assert await console.sign_in("vera") == 303

    async with console.client.get("/reconciliation") as answer:
        listing = await answer.text()
    assert answer.status == 200
    assert 'href="/reconciliation/acme/202611"' in listing
    assert "does not balance" in listing
    assert "closed in Deltek" in listing
    assert "28,481.37" in listing  # the latest run's totals, not the first one's
    assert 'aria-current="page"' in listing and ">Reconciliation</a>" in listing

    async with console.client.get("/reconciliation/acme/202611") as answer:
        detail = await answer.text()
    assert answer.status == 200
    assert "OLD-1" not in detail
    assert "HAND-0001" in detail and "000021 in AP-HAND-0001" in detail
    assert "<script>alert(1)</script>" not in detail
    assert "Meridian &lt;script&gt;" in detail
    assert 'href="/records/acme%3Ainvoice%3A48002"' in detail
    assert "00217-48000" not in detail  # matches are counted, not listed
    assert action_forms(listing) == action_forms(detail) == []  # it only reads


async def test_a_period_never_reconciled_is_not_found(console, db_url):
    assert await console.sign_in("vera") == 303
    async with console.client.get("/reconciliation/acme/202001") as answer:
        assert answer.status == 404
        assert "never reconciled" in await answer.text()


async def test_signed_out_the_page_asks_to_sign_in(console):
    async with console.client.get("/reconciliation", allow_redirects=False) as answer:
        assert answer.status in (302, 303)
