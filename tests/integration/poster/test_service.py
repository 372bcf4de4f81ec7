"""The poster as wired for production: the app, the store-backed connections, the CLI command."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from services.cli.reference_cmd import refresh_now
from services.poster.app import create_app
from shared.connections.model import (
    Connection,
    CoupaSettings,
    DeltekSettings,
    Secrets,
    StoredSettings,
)
from shared.connections.runtime import StoredConnections
from shared.connections.store import apply_connections
from shared.endpoints import Endpoints
from shared.kafka.producer import Publisher
from shared.secrets import KeyRing, MasterKey, generate_key
from shared.service.app import serve_admin
from shared.settings import Settings
from tests.integration.poster.conftest import (
    CONNECTION,
    active_vendor,
    envelope_of,
    make_command,
    our_batches,
    store_record,
)
from tests.support import eventually, scrape_metrics

pytestmark = pytest.mark.integration


async def test_the_app_posts_commands_and_keeps_the_reference_cache(
    sim, pool, db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning, connections
):
    kafka = kafka_tuning.model_copy(update={"topic_prefix": topics.prefix})
    settings = Settings(kafka=kafka, consumer=consumer_tuning, admin_port=0)
    app = create_app(settings, Endpoints(db_url, kafka_bootstrap), connections)
    serve_admin(app)
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        publisher = Publisher(kafka_bootstrap, kafka_tuning)
        await publisher.start()
        try:
            await publisher.publish(topics.deltek_writes, envelope_of(command))
        finally:
            await publisher.stop()

        async def posted_and_cached() -> bool:
            ledger = await pool.fetchval("SELECT state FROM posting_ledger")
            kinds = await pool.fetchval("SELECT count(*) FROM reference_refreshes")
            # The job is counted just after its outcome is committed and published.
            counted = 'outcome="created"} 1.0' in await scrape_metrics(client)
            return ledger == "posted" and kinds == 4 and counted

        await eventually(posted_and_cached, within=20, what="posting and the first refresh")
        metrics = await scrape_metrics(client)
    assert len(our_batches(sim)) == 1
    assert 'connector_poster_jobs_total{connection="acme",outcome="created"} 1.0' in metrics
    assert 'connector_approved_to_posted_seconds_count{connection="acme"} 1.0' in metrics
    assert 'connector_reference_rows{connection="acme",kind="periods"} 14.0' in metrics


def stored_connection(sim, **deltek) -> Connection:
    settings = StoredSettings(
        coupa=CoupaSettings(base_url="http://127.0.0.1:9", client_id="coupa-client"),
        deltek=DeltekSettings(
            base_url=sim.api,
            database="ACME_PROD",
            username="COUPA_API",
            client_id="coupa-connector",
            liability_code="Trade",
            bank_code="OPER",
            **deltek,
        ),
    )
    secrets = Secrets(
        coupa_client_secret=SecretStr("c-secret"),
        deltek_password=SecretStr("sim-password"),
        deltek_client_secret=SecretStr("sim-secret"),
    )
    return Connection(CONNECTION, settings, secrets)


async def test_store_connections_serve_settings_and_one_client_until_changed(sim, pool):
    ring = KeyRing(MasterKey.parse(generate_key(), source="test"))
    async with pool.acquire() as db:
        await apply_connections(db, ring, [stored_connection(sim)])
    store = StoredConnections(pool, ring, fresh_seconds=0)
    try:
        assert await store.names() == [CONNECTION]
        assert await store.settings_for("nope") is None
        settings = await store.settings_for(CONNECTION)
        assert settings is not None
        assert (settings.deltek.liability_code, settings.deltek.post_batches) == ("Trade", False)
        client = await store.client_for(CONNECTION)
        assert await store.client_for(CONNECTION) is client
        assert await client.get_ap_batch("NONE") is None  # the stored secrets log in

        tenant = {"voucher_numbers": "ours", "ledger_invoice_column": "InvoiceNumber"}
        async with pool.acquire() as db:
            await apply_connections(db, ring, [stored_connection(sim, post_batches=True, **tenant)])
        changed = await store.settings_for(CONNECTION)
        assert changed is not None
        assert changed.deltek.post_batches is True
        assert (changed.deltek.voucher_numbers, changed.deltek.ledger_invoice_column) == (
            "ours",
            "InvoiceNumber",
        )
        assert await store.client_for(CONNECTION) is not client
    finally:
        await store.close()


async def test_reference_refresh_command_prints_row_counts(sim, pool, db_url, capsys):
    key = generate_key()
    async with pool.acquire() as db:
        ring = KeyRing(MasterKey.parse(key, source="test"))
        await apply_connections(db, ring, [stored_connection(sim)])
    code = await refresh_now(
        CONNECTION, Settings(database_url=SecretStr(db_url), master_key=SecretStr(key))
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "acme: vendors        40 rows" in out
    assert "acme: periods        14 rows" in out
    assert await pool.fetchval("SELECT count(*) FROM reference_refreshes") == 4
