"""Stored reconciliations and the gauges read from them: the latest run of each period counts."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from shared.db.pool import init_connection
from shared.reconcile.model import Finding, Kind
from shared.reconcile.results import latest_results, save_run
from shared.service.state_gauges import Snapshot, StateGauges

pytestmark = pytest.mark.integration


def finding(kind: Kind, amount: str, currency: str = "USD") -> Finding:
    return Finding(kind, "INV-1", "V1", coupa_amount=Decimal(amount), currency=currency)


async def test_the_latest_run_of_each_period_is_what_the_gauges_export(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    await init_connection(conn)
    try:
        first = [finding(Kind.MISSING_IN_DELTEK, "10.00")]
        await save_run(conn, "acme", 202611, closed=True, findings=first)
        latest = [
            finding(Kind.MATCHED, "100.00"),
            finding(Kind.MATCHED, "5.50", "CAD"),
            finding(Kind.POSTED_TWICE, "7.25"),
        ]
        await save_run(conn, "acme", 202611, closed=True, findings=latest)
        await save_run(conn, "acme", 202612, closed=False, findings=[])
        results = await latest_results(conn)
        stored = await conn.fetchval(
            "SELECT findings FROM reconciliation_runs ORDER BY id DESC OFFSET 1 LIMIT 1"
        )
    finally:
        await conn.close()

    assert [(r.period, r.closed, r.balanced) for r in results] == [
        (202611, True, False),
        (202612, False, True),
    ]
    assert [f["kind"] for f in stored] == ["posted_twice"]  # matches are counted, not kept
    assert stored[0]["coupa_amount"] == "7.25"

    registry = CollectorRegistry()
    StateGauges(registry).publish(Snapshot(reconciliations=results), now=0.0)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    def invoices(labels: dict[str, str], kind: str) -> float | None:
        return value("connector_reconciliation_invoices", **labels, **{"class": kind})

    november = {"connection": "acme", "period": "202611"}
    assert invoices(november, "matched") == 2
    assert invoices(november, "posted_twice") == 1
    assert invoices(november, "missing_in_deltek") == 0
    assert (
        value("connector_reconciliation_amount", **november, **{"class": "matched"}, currency="CAD")
        == 5.5
    )
    assert value("connector_reconciliation_period_closed", **november) == 1
    december = {"connection": "acme", "period": "202612"}
    assert value("connector_reconciliation_period_closed", **december) == 0
    assert invoices(december, "matched") == 0
    assert value("connector_reconciliation_last_run_timestamp_seconds", **december) is not None
