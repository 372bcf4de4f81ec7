"""Metrics live on the admin port only: the service's own port (ingest's takes Coupa's Call Outs
from outside) answers 404 for /metrics, and the admin port serves nothing but the metrics."""

from __future__ import annotations

import importlib

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from shared.endpoints import Endpoints
from shared.secrets import generate_key
from shared.service.app import ADMIN_URL, serve_admin
from shared.settings import Settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", ["ingest", "mapper", "poster"])
async def test_metrics_are_on_the_admin_port_and_not_on_the_service_port(
    service, db_url, kafka_bootstrap, topics, kafka_tuning
):
    settings = Settings(
        kafka=kafka_tuning.model_copy(update={"topic_prefix": topics.prefix}),
        master_key=SecretStr(generate_key()),
        admin_port=0,
        # The test stops the app while its consumer may still be joining the group, which the
        # consumer loop waits out to the end of this timeout instead of leaving at once.
        shutdown_timeout_seconds=1,
    )
    # Built the way `connector <service>` builds it.
    app = importlib.import_module(f"services.{service}.app").create_app(
        settings, Endpoints(db_url, kafka_bootstrap)
    )
    serve_admin(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/metrics")).status == 404
        admin = app[ADMIN_URL]
        assert admin.port != client.port
        async with client.session.get(admin / "metrics") as answer:
            assert answer.status == 200
            assert answer.content_type == "text/plain"
            metrics = await answer.text()
        for path in ("healthz", "readyz", "coupa/acme/invoices", "oauth2/token"):
            async with client.session.get(admin / path) as answer:
                assert answer.status == 404, path
    assert f'connector_service_info{{service="{service}"}} 1.0' in metrics
    # The same registry the service counts its own traffic in, 404 on /metrics included.
    assert 'route="/healthz",status="200"} 1.0' in metrics
    assert 'route="unmatched",status="404"} 1.0' in metrics
