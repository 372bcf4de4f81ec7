"""The mapper service over a real broker and Postgres: in from coupa.invoices, out on
deltek.writes, and parked invoices going on by themselves after a mappings import."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.cli.main import build_parser
from services.mapper.app import create_app
from shared.db.pool import create_pool
from shared.endpoints import Endpoints
from shared.kafka.envelope import Envelope
from shared.kafka.producer import Publisher
from shared.messages import SUPPLIER_CHANGED, PostApInvoice, SupplierChanged
from shared.service.app import serve_admin
from shared.settings import MapperTuning, Settings
from tests.integration.mapper.conftest import STRANGER, invoice_envelope, seed
from tests.support import eventually, read_topic, scrape_metrics

pytestmark = pytest.mark.integration


@asynccontextmanager
async def mapper(db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning, *, sweep: float):
    async with connected(db_url) as conn:
        await seed(conn)
    settings = Settings(
        kafka=kafka_tuning.model_copy(update={"topic_prefix": topics.prefix}),
        consumer=consumer_tuning,
        mapper=MapperTuning(resume_interval_seconds=sweep),
        admin_port=0,
    )
    app = create_app(settings, Endpoints(db_url, kafka_bootstrap))
    serve_admin(app)
    publisher = Publisher(kafka_bootstrap, kafka_tuning)
    await publisher.start()
    try:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield client, publisher
    finally:
        await publisher.stop()


@asynccontextmanager
async def connected(db_url: str):
    pool = await create_pool(db_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            yield conn
    finally:
        await pool.close()


async def state_of(db_url: str, key: str) -> str | None:
    async with connected(db_url) as conn:
        return await conn.fetchval(
            "SELECT state FROM records WHERE record_key = $1 ORDER BY id DESC LIMIT 1", key
        )


async def commands(kafka_bootstrap: str, topics, expect: int) -> list[PostApInvoice]:
    raw = await read_topic(kafka_bootstrap, topics.deltek_writes, expect=expect)
    return [PostApInvoice.model_validate(Envelope.decode(value).payload) for value in raw]


async def test_an_invoice_in_is_a_command_out_and_a_redelivery_adds_only_the_same_command(
    db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning
):
    envelope = invoice_envelope()
    async with mapper(
        db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning, sweep=600
    ) as (client, publisher):
        await publisher.publish(topics.coupa_invoices, envelope)
        await eventually(lambda: _is(db_url, envelope.key, "mapped"), what="mapping")
        await publisher.publish(topics.coupa_invoices, envelope)
        sent = await commands(kafka_bootstrap, topics, expect=2)
        metrics = await scrape_metrics(client)
    assert len(sent) == 2 and sent[0] == sent[1]
    assert sent[0].total == Decimal("541.25")
    assert [line.amount for line in sent[0].lines] == [
        Decimal("300.00"), Decimal("200.00"), Decimal("41.25"),
    ]  # fmt: skip
    assert 'connector_mapper_outcomes_total{connection="acme",outcome="mapped"} 1.0' in metrics
    assert 'connector_mapper_outcomes_total{connection="acme",outcome="republished"} 1.0' in metrics
    async with connected(db_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM records") == 1


async def _is(db_url: str, key: str, state: str) -> bool:
    return await state_of(db_url, key) == state


async def test_a_parked_invoice_goes_on_by_itself_after_a_mappings_import(
    db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning, tmp_path, monkeypatch
):
    envelope = invoice_envelope(supplier=STRANGER)
    csv_file = tmp_path / "suppliers.csv"
    csv_file.write_text("coupa_value,deltek_value\nV-00900,NKL0001\n")
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", db_url)
    args = build_parser().parse_args(
        ["mappings", "import", "--connection", "acme", "--kind", "suppliers", str(csv_file)]
    )
    async with mapper(
        db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning, sweep=600
    ) as (_, publisher):
        await publisher.publish(topics.coupa_invoices, envelope)
        await eventually(lambda: _is(db_url, envelope.key, "parked"), what="parking")
        await asyncio.sleep(0.5)  # the LISTEN connection is open by now
        assert await asyncio.to_thread(args.func, args) == 0
        # The sweep is 10 minutes away: only the NOTIFY can bring it on within seconds.
        await eventually(lambda: _is(db_url, envelope.key, "mapped"), within=10, what="resume")
    [command] = await commands(kafka_bootstrap, topics, expect=1)
    assert command.vendor == "NKL0001"


async def test_the_periodic_sweep_resumes_parked_invoices_without_a_notification(
    db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning
):
    envelope = invoice_envelope(supplier=STRANGER)
    async with mapper(
        db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning, sweep=0.5
    ) as (_, publisher):
        await publisher.publish(topics.coupa_invoices, envelope)
        await eventually(lambda: _is(db_url, envelope.key, "parked"), what="parking")
        async with connected(db_url) as conn:
            await conn.execute(
                "INSERT INTO mappings (connection, kind, coupa_value, deltek_value) "
                "VALUES ('acme', 'supplier', '900', 'NKL0001')"
            )
        await eventually(lambda: _is(db_url, envelope.key, "mapped"), within=10, what="sweep")
    async with connected(db_url) as conn:
        events = await conn.fetch("SELECT event FROM audit_events ORDER BY id")
    # Sweeps while it still waited added nothing; going on is one "resumed" event.
    assert [e["event"] for e in events] == ["received", "parked", "resumed"]


async def test_a_supplier_parked_for_its_payment_term_goes_on_once_the_term_is_mapped(
    db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning
):
    """deltek-api.md §3.D: a Coupa term Deltek cannot take parks the supplier; once the
    connection's mapping.pay_terms names it, the sweep sends the vendor on by itself."""
    supplier = {
        "id": 217, "updated-at": "2025-02-20T10:30:00-08:00", "number": "V-00217",
        "name": "Northwind Survey Services LLC", "status": "active",
        "payment-term": {"id": 9, "code": "EOM"},
    }  # fmt: skip
    envelope = Envelope(
        schema=SUPPLIER_CHANGED,
        connection="acme",
        key="acme:supplier:217",
        source="webhook",
        payload=SupplierChanged(supplier=supplier).model_dump(mode="json"),
    )
    vendors_on = """UPDATE connections SET settings = jsonb_set(settings,
                    '{mapping,create_vendors}', 'true'::jsonb) WHERE name = 'acme'"""
    term_mapped = """UPDATE connections SET settings = jsonb_set(settings,
                     '{mapping,pay_terms}', '{"EOM": "Next"}'::jsonb) WHERE name = 'acme'"""
    async with mapper(
        db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning, sweep=0.5
    ) as (_, publisher):
        async with connected(db_url) as conn:
            await conn.execute(vendors_on)
        await publisher.publish(topics.coupa_suppliers, envelope)
        await eventually(lambda: _is(db_url, envelope.key, "parked"), what="parking")
        async with connected(db_url) as conn:
            reason = await conn.fetchval("SELECT parked_reason FROM records")
            await conn.execute(term_mapped)
        assert "'EOM'" in reason and "mapping.pay_terms" in reason
        await eventually(lambda: _is(db_url, envelope.key, "mapped"), within=10, what="sweep")
