"""The real Deltek client against the simulator: every call measured, every write logged once."""

from __future__ import annotations

import logging
import uuid

import pytest
from prometheus_client import CollectorRegistry

from shared.call_context import bound
from shared.deltek import DeltekClient, Firm, NeedsAttentionError
from tests.integration.deltek.conftest import Sim
from tests.support import api_call_count, api_call_registry


@pytest.fixture
def registry() -> CollectorRegistry:
    return api_call_registry()


def count(registry: CollectorRegistry, connection: str, endpoint: str, outcome: str) -> float:
    return api_call_count(registry, connection, endpoint, outcome, api="deltek")


async def test_a_write_is_measured_and_logged_with_its_job(
    vp: DeltekClient, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    connection = f"c-{uuid.uuid4().hex[:8]}"
    caplog.set_level(logging.INFO, logger="shared.api_calls")
    with bound(connection=connection, job="job-1", record=f"{connection}:supplier:9"):
        await vp.create_firm(Firm(Name="Metered Supply LLC", VendorInd="Y", ClientInd="N"))
        assert await vp.get_project("NOPE") is None
    assert count(registry, connection, "POST /token", "ok") == 1
    assert count(registry, connection, "POST /firm", "ok") == 1
    assert count(registry, connection, "GET /project/{wbs1}", "client_error") == 1
    [write] = [r for r in caplog.records if r.getMessage().startswith("deltek write")]
    assert (write.job_id, write.call, write.status) == ("job-1", "POST /firm", 201)  # type: ignore[attr-defined]


async def test_refused_credentials_show_as_unauthorized_until_a_call_succeeds(
    sim: Sim, vp: DeltekClient, registry: CollectorRegistry
) -> None:
    connection = f"c-{uuid.uuid4().hex[:8]}"
    refused = {"api": "deltek", "connection": connection}
    with bound(connection=connection):
        await vp.list_periods()
        assert registry.get_sample_value("connector_api_auth_refused", refused) == 0
        await sim.set_faults(unauthorized={"after": 0, "count": 1000})
        with pytest.raises(NeedsAttentionError):
            await vp.list_periods()
        assert count(registry, connection, "GET /Settings/Period", "unauthorized") >= 1
        assert registry.get_sample_value("connector_api_auth_refused", refused) == 1
        await sim.set_faults()
        vp.auth.clear_attention()
        await vp.list_periods()
    assert registry.get_sample_value("connector_api_auth_refused", refused) == 0
