"""The real Coupa client against the simulator: calls measured by template, refusals seen."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import CollectorRegistry

from shared.call_context import bound
from shared.coupa import CoupaAuthError
from tests.support import api_call_count, api_call_registry


@pytest.fixture
def registry() -> CollectorRegistry:
    return api_call_registry()


def count(registry: CollectorRegistry, connection: str, endpoint: str, outcome: str) -> float:
    return api_call_count(registry, connection, endpoint, outcome, api="coupa")


async def test_calls_are_measured_by_template(sim, make_client, registry) -> None:
    connection = f"c-{uuid.uuid4().hex[:8]}"
    supplier_id = next(iter(sim.store.collections["suppliers"]))
    with bound(connection=connection):
        await make_client(sim).get_supplier(supplier_id)
    assert count(registry, connection, "POST /oauth2/token", "ok") == 1
    assert count(registry, connection, "GET /api/suppliers/{id}", "ok") == 1


async def test_a_refused_secret_is_an_unauthorized_token_call(
    start_sim, make_client, registry
) -> None:
    sim = await start_sim(client_id="connector", client_secret="right")
    connection = f"c-{uuid.uuid4().hex[:8]}"
    with bound(connection=connection), pytest.raises(CoupaAuthError):
        await make_client(sim, client_secret="wrong").get_supplier(1)
    assert count(registry, connection, "POST /oauth2/token", "unauthorized") == 1
    labels = {"api": "coupa", "connection": connection}
    assert registry.get_sample_value("connector_api_auth_refused", labels) == 1
