"""A service app over real HTTP with real Postgres and broker: probes, metrics, consumption."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.mapper.app import create_app as create_mapper
from shared.embedded.process import free_port
from shared.endpoints import Endpoints
from shared.kafka.producer import Publisher
from shared.settings import Settings
from tests.support import eventually, invoice_event

pytestmark = pytest.mark.integration


def settings_for(topics, kafka_tuning, consumer_tuning) -> Settings:
    kafka = kafka_tuning.model_copy(update={"topic_prefix": topics.prefix})
    return Settings(kafka=kafka, consumer=consumer_tuning)


async def test_mapper_is_ready_consumes_and_counts(
    db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning
):
    app = create_mapper(
        settings_for(topics, kafka_tuning, consumer_tuning), Endpoints(db_url, kafka_bootstrap)
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/healthz")).status == 200
        ready = await client.get("/readyz")
        assert ready.status == 200
        assert await ready.json() == {"postgres": "ok", "kafka": "ok"}

        publisher = Publisher(kafka_bootstrap, kafka_tuning)
        await publisher.start()
        try:
            await publisher.publish(topics.coupa_invoices, invoice_event("acme", 7))
        finally:
            await publisher.stop()

        async def stored() -> bool:
            conn = await asyncpg.connect(db_url)
            try:
                return (
                    await conn.fetchval(
                        "SELECT count(*) FROM records WHERE record_key='acme:invoice:7'"
                    )
                    == 1
                )
            finally:
                await conn.close()

        await eventually(stored, what="mapper storing the record")
        metrics = await (await client.get("/metrics")).text()
    assert (
        f'connector_messages_total{{outcome="ok",topic="{topics.coupa_invoices}"}} 1.0' in metrics
    )
    assert 'connector_http_requests_total{method="GET",route="/readyz",status="200"} 1.0' in metrics


async def test_readyz_reports_an_unreachable_postgres_while_healthz_stays_up(
    kafka_bootstrap, topics, kafka_tuning, consumer_tuning
):
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/connector"
    app = create_mapper(
        settings_for(topics, kafka_tuning, consumer_tuning), Endpoints(nowhere, kafka_bootstrap)
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/healthz")).status == 200
        ready = await client.get("/readyz")
        body = await ready.json()
    assert ready.status == 503
    assert body["kafka"] == "ok"
    assert body["postgres"].startswith("error:")
