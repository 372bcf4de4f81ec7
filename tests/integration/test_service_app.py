"""A service app over real HTTP with real Postgres and broker: probes, metrics, consumption."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.mapper.app import create_app as create_mapper
from shared.embedded.process import free_port
from shared.endpoints import Endpoints
from shared.kafka.producer import Publisher
from shared.service.app import ADMIN_URL, PUBLISHER, serve_admin
from shared.settings import Settings
from tests.support import eventually, invoice_event

pytestmark = pytest.mark.integration


def settings_for(topics, kafka_tuning, consumer_tuning, **fields) -> Settings:
    kafka = kafka_tuning.model_copy(update={"topic_prefix": topics.prefix})
    return Settings(kafka=kafka, consumer=consumer_tuning, admin_port=0, **fields)


async def test_mapper_is_ready_consumes_and_counts(
    db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning
):
    app = create_mapper(
        settings_for(topics, kafka_tuning, consumer_tuning), Endpoints(db_url, kafka_bootstrap)
    )
    serve_admin(app)
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
        async with client.session.get(app[ADMIN_URL] / "metrics") as scraped:
            metrics = await scraped.text()
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


async def test_a_flood_of_readyz_makes_one_check_per_cache_period(
    db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning, monkeypatch
):
    """/readyz is on the public port: probing it must not turn into load on Postgres and Kafka."""
    ttl = 1.0
    settings = settings_for(topics, kafka_tuning, consumer_tuning, readiness_cache_seconds=ttl)
    app = create_mapper(settings, Endpoints(db_url, kafka_bootstrap))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        checks = {"postgres": 0, "kafka": 0}
        fetchval, ping = asyncpg.Pool.fetchval, app[PUBLISHER].ping

        async def counted_fetchval(pool, query, *args, **kwargs):
            if query == "SELECT 1":  # the readiness query; the mapper's own work is not counted
                checks["postgres"] += 1
            return await fetchval(pool, query, *args, **kwargs)

        async def counted_ping() -> None:
            checks["kafka"] += 1
            await ping()

        monkeypatch.setattr(asyncpg.Pool, "fetchval", counted_fetchval)
        monkeypatch.setattr(app[PUBLISHER], "ping", counted_ping)

        started = time.monotonic()
        answers = await asyncio.gather(*(client.get("/readyz") for _ in range(200)))
        periods = 1 + int((time.monotonic() - started) / ttl)
        assert {answer.status for answer in answers} == {200}
        assert 1 <= checks["postgres"] <= periods, (checks, periods)
        assert 1 <= checks["kafka"] <= periods, (checks, periods)

        # Once the period is over the next probe checks again: the verdict is never kept stale.
        await asyncio.sleep(ttl)
        before = dict(checks)
        assert (await client.get("/readyz")).status == 200
        assert checks == {name: count + 1 for name, count in before.items()}
