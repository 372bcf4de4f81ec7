"""`connections test` against the real simulators: OK when all is right, and each known
misconfiguration reported on the right line, in plain words, with a hint."""

from __future__ import annotations

from typing import Any

import pytest

from shared.connections.diagnose import diagnose
from tests.integration.connections.conftest import ENV, StartSims, connection

pytestmark = pytest.mark.integration
# Check and status for a correct connection (the example file) against default simulators.
ALL_CHECKS = {
    "Coupa token": "OK",
    "Coupa reads": "OK",
    "Coupa clock": "OK",
    "Deltek token": "OK",
    "Deltek periods": "OK",
    "Open periods": "OK",
    "Deltek amounts": "OK",
    "Bank code": "OK",
    "Ledger column": "OK",
    "Liability code": "ASSUMED",
    "Voucher numbers": "ASSUMED",
    "Group by files": "ASSUMED",
    "Post approvals": "SKIPPED",  # the example connection does not post
    "Pay terms": "OK",
}


async def test_a_correct_connection_passes_every_check(start_sims: StartSims, tmp_path, db):
    sims = await start_sims()
    findings = await diagnose(connection(tmp_path, sims), db)
    assert {f.check: f.status for f in findings} == ALL_CHECKS, findings
    assert [f.check for f in findings] == list(ALL_CHECKS)
    # The output keeps its columns: no check name is wider than the 15 characters it gets.
    assert max(len(f.check) for f in findings) <= 15


SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Any], str, str]] = {
    # name: (simulator setup, connection keys, check that fails, words it must use)
    "coupa bad secret": (
        {},
        {"env": {**ENV, "ACME_COUPA_CLIENT_SECRET": "not-the-coupa-secret"}},
        "Coupa token",
        "rejected the client id 'connector' or its secret",
    ),
    "coupa client lacks a scope": (
        {"coupa": {"client_scopes": ["core.common.read", "core.invoice.read"]}},
        {},
        "Coupa token",
        "will not grant the scopes",
    ),
    "connection asks too few scopes": (
        {},
        {"coupa": {"scopes": ["core.common.read", "core.invoice.read", "core.supplier.read"]}},
        "Coupa reads",
        "missing scope core.purchase_order.read",
    ),
    "clock skew": (
        {"coupa": {"clock_skew_seconds": -600}},
        {},
        "Coupa clock",
        "ahead of Coupa's",
    ),
    "deltek bad client secret": (
        {},
        {"env": {**ENV, "ACME_DELTEK_CLIENT_SECRET": "not-the-deltek-secret"}},
        "Deltek token",
        "rejected the client id 'coupa-connector' or its secret",
    ),
    "password grant not enabled": (
        {"deltek": {"password_grant_enabled": False}},
        {},
        "Deltek token",
        "password grant is not enabled",
    ),
    "wrong database": (
        {},
        {"deltek": {"database": "ACME_TEST"}},
        "Deltek token",
        "does not know the database 'ACME_TEST'",
    ),
    "bad deltek password": (
        {},
        {"env": {**ENV, "ACME_DELTEK_PASSWORD": "not-the-password"}},
        "Deltek token",
        "rejected the user 'COUPA_API' or its password",
    ),
    "restricted role": (
        {"deltek": {"restricted_role": True}},
        {},
        "Deltek amounts",
        "every project fee reads as zero",
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_each_misconfiguration_is_reported_in_plain_words(
    scenario: str, start_sims: StartSims, tmp_path, db
):
    sim_setup, keys, failing, words = SCENARIOS[scenario]
    sims = await start_sims(**sim_setup)
    findings = {f.check: f for f in await diagnose(connection(tmp_path, sims, **keys), db)}
    problem = findings[failing]
    assert problem.status == "PROBLEM"
    assert words in problem.message
    assert problem.hint
    others = [f for check, f in findings.items() if check != failing]
    # Only the broken part fails; what needs its token is skipped, not failed.
    assert {f.status for f in others} <= {"OK", "SKIPPED", "ASSUMED"}, findings


async def test_unreachable_systems_are_problems_not_crashes(start_sims: StartSims, tmp_path, db):
    sims = await start_sims()
    dead = type(sims)("http://127.0.0.1:9", "http://127.0.0.1:9/api")
    findings = {f.check: f for f in await diagnose(connection(tmp_path, dead), db)}
    assert findings["Coupa token"].status == "PROBLEM"
    assert "coupa.base_url" in findings["Coupa token"].hint
    assert findings["Deltek token"].status == "PROBLEM"
    assert "deltek.base_url" in findings["Deltek token"].hint
    assert findings["Coupa clock"].status == "SKIPPED"
    # What needs no tenant is still said: the assumptions come from the connection alone.
    assert findings["Ledger column"].status == "SKIPPED"
    assert findings["Voucher numbers"].status == "ASSUMED"
