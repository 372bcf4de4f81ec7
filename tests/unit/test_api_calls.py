"""Coupa and Deltek calls measured: outcomes, endpoint templates, the auth gauge, the write log."""

from __future__ import annotations

import logging
import uuid

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from shared.api_calls import OTHER, ApiCalls, Routes, outcome_of
from shared.call_context import bound, current, for_message
from shared.coupa.calls import ROUTES as COUPA
from shared.deltek.transport import CALLS as DELTEK_CALLS
from shared.deltek.transport import ROUTES as DELTEK
from shared.kafka.envelope import Envelope
from tests.support import api_call_count, api_call_registry


@pytest.fixture
def registry() -> CollectorRegistry:
    return api_call_registry()


@pytest.fixture
def connection() -> str:
    """A connection name of the test's own: the collectors are the process's."""
    return f"c-{uuid.uuid4().hex[:8]}"


def calls(registry: CollectorRegistry, connection: str, endpoint: str, outcome: str) -> float:
    return api_call_count(registry, connection, endpoint, outcome, api="deltek")


@pytest.mark.parametrize(
    ("status", "token_call", "outcome"),
    [
        (200, False, "ok"),
        (201, False, "ok"),
        (400, False, "client_error"),
        (400, True, "unauthorized"),
        (401, False, "unauthorized"),
        (403, False, "unauthorized"),
        (404, False, "client_error"),
        (429, False, "rate_limited"),
        (503, False, "server_error"),
        (None, False, "network"),
    ],
)
def test_outcome_by_status(status: int | None, token_call: bool, outcome: str) -> None:
    assert outcome_of(status, token_call=token_call) == outcome


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/acme/api/token", "/token"),
        ("/acme/api/firm", "/firm"),
        ("/acme/api/firm/8F3A-21", "/firm/{client}"),
        ("/acme/api/firm/8F3A-21/address", "/firm/{client}/address"),
        ("/acme/api/firm/8F3A-21/vendorAccountingInfo", "/firm/{client}/vendorAccountingInfo"),
        ("/acme/vision/firm/VendorAccountingInfo", "/firm/VendorAccountingInfo"),
        ("/acme/api/Accounts/", "/Accounts"),
        ("/acme/api/project/1001.00", "/project/{wbs1}"),
        ("/acme/api/DataEntry/apControl", "/DataEntry/apControl"),
        ("/acme/api/DataEntry/apControl/COUPA-2026-06-15-1", "/DataEntry/apControl/{batch}"),
        ("/acme/api/DataEntry/apDetail/B1", "/DataEntry/apDetail/{batch}"),
        ("/acme/api/DataEntry/PostTransFile", "/DataEntry/PostTransFile"),
        ("/acme/api/PSALedger/AP", "/PSALedger/AP"),
        ("/acme/api/Unheard/Of/42", OTHER),
    ],
)
def test_deltek_paths_become_templates_without_ids(path: str, template: str) -> None:
    assert DELTEK.template(f"https://acme.example{path}?fieldFilter=x") == template


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/oauth2/token", "/oauth2/token"),
        ("/api/invoices", "/api/invoices"),
        ("/api/invoices/4711", "/api/invoices/{id}"),
        ("/api/suppliers/12", "/api/suppliers/{id}"),
        ("/api/purchase_orders", "/api/purchase_orders"),
        ("/api/users/3", OTHER),
    ],
)
def test_coupa_paths_become_templates_without_ids(path: str, template: str) -> None:
    assert COUPA.template(f"https://acme.coupahost.com{path}") == template


def test_routes_refuse_a_token_endpoint_they_do_not_list() -> None:
    with pytest.raises(ValueError, match="token endpoint"):
        Routes(["/api/x"], auth_path="/token")


async def test_a_call_is_counted_by_template_and_outcome(
    registry: CollectorRegistry, connection: str
) -> None:
    with bound(connection=connection):
        async with DELTEK_CALLS.measure("GET", "https://t/acme/api/DataEntry/apControl/B7") as call:
            call.status = 200
    assert calls(registry, connection, "GET /DataEntry/apControl/{batch}", "ok") == 1


async def test_an_answer_broken_off_after_its_status_counts_as_network(
    registry: CollectorRegistry, connection: str
) -> None:
    async def read_broken_answer() -> None:
        async with DELTEK_CALLS.measure("GET", "https://t/acme/api/PSALedger/AP") as call:
            call.status = 200
            raise aiohttp.ClientPayloadError("connection reset while reading")

    with bound(connection=connection), pytest.raises(aiohttp.ClientPayloadError):
        await read_broken_answer()
    assert calls(registry, connection, "GET /PSALedger/AP", "network") == 1
    assert calls(registry, connection, "GET /PSALedger/AP", "ok") == 0


async def test_auth_gauge_rises_on_a_refused_token_and_falls_on_the_next_good_call(
    registry: CollectorRegistry, connection: str
) -> None:
    def refused() -> float | None:
        labels = {"api": "deltek", "connection": connection}
        return registry.get_sample_value("connector_api_auth_refused", labels)

    with bound(connection=connection):
        async with DELTEK_CALLS.measure("POST", "https://t/acme/api/token") as call:
            call.status = 400  # invalid_grant: a token endpoint's way of saying 401
        assert refused() == 1
        async with DELTEK_CALLS.measure("GET", "https://t/acme/api/firm") as call:
            call.status = 503  # says nothing about the credentials
        assert refused() == 1
        async with DELTEK_CALLS.measure("POST", "https://t/acme/api/token") as call:
            call.status = 200
    assert refused() == 0


async def test_one_log_line_per_write_with_the_job_it_was_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    envelope = Envelope(
        schema="PostApInvoice",
        connection="acme",
        key="acme:invoice:4711",
        source="poll",
        payload={"job_id": "job-4711"},
    )
    caplog.set_level(logging.INFO, logger="shared.api_calls")
    with for_message(envelope):
        for method, path, status in [
            ("POST", "/acme/api/token", 200),  # a token, not a write to the ledger
            ("GET", "/acme/api/DataEntry/apControl/B7", 200),
            ("POST", "/acme/api/DataEntry/apControl", 201),
        ]:
            async with DELTEK_CALLS.measure(method, f"https://t{path}") as call:
                call.status = status
    [line] = caplog.records
    assert line.getMessage() == "deltek write POST /DataEntry/apControl: ok"
    fields = {k: getattr(line, k) for k in ("connection", "job_id", "record_key", "call")}
    assert fields == {
        "connection": "acme",
        "job_id": "job-4711",
        "record_key": "acme:invoice:4711",
        "call": "POST /DataEntry/apControl",
    }
    assert line.outcome == "ok" and line.status == 201 and line.latency_ms >= 0  # type: ignore[attr-defined]


async def test_reads_of_an_api_without_write_logging_log_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="shared.api_calls")
    coupa = ApiCalls("coupa", COUPA)
    async with coupa.measure("PUT", "https://c/api/invoices/1") as call:
        call.status = 200
    assert caplog.records == []


def test_bindings_nest_and_unwind() -> None:
    with bound(connection="acme"):
        with bound(job="j1") as inner:
            assert (inner.connection, inner.job, inner.record) == ("acme", "j1", "")
        assert current().job == ""
    assert current().connection == ""
