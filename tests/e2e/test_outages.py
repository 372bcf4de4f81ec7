"""Outages through real processes: Deltek answering 503 to everything, Postgres stopped. Records
wait and go on by themselves, nothing is lost or failed; then the secrets scan over all of it.

The scan runs last in this module on purpose: it searches logs that hold the outages' errors
and retries, where a credential is most likely to slip out, and it saves starting a stack.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest

from devstack.driver import approve, create_invoice, push_again
from devstack.secret_sweep import stack_scanner, sweep
from devstack.supervisor import SIM_CONNECTION
from services.cli.main import main
from tests.support import eventually

pytestmark = pytest.mark.e2e

SERVICES = ("ingest", "mapper", "poster")
# The services read these at start: short backoffs so work resumes within a second or two.
QUICK = {"CONNECTOR_CONSUMER__BACKOFF_MAX_SECONDS": "1"}


@pytest.fixture(scope="module", autouse=True)
def quick_retries() -> Iterator[None]:
    """Set before the module's stack starts (autouse fixtures come first in their scope)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in QUICK.items():
            patch.setenv(name, value)
        yield


async def approve_new(rig, count: int, *, callout: bool = True) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        return [
            await approve(
                http, rig.coupa, (await create_invoice(http, rig.coupa))["id"], callout=callout
            )
            for _ in range(count)
        ]


async def states_of(rig, invoices: list[dict[str, Any]]) -> dict[str, str]:
    conn = await asyncpg.connect(rig.database_url)
    try:
        rows = await conn.fetch(
            """SELECT DISTINCT ON (record_key) record_key, state FROM records
                WHERE record_key = ANY($1::text[]) ORDER BY record_key, id DESC""",
            [f"{SIM_CONNECTION}:invoice:{invoice['id']}" for invoice in invoices],
        )
    finally:
        await conn.close()
    return {row["record_key"]: row["state"] for row in rows}


async def readiness(rig) -> dict[str, tuple[int, dict[str, str]]]:
    found = {}
    async with aiohttp.ClientSession() as http:
        for name in SERVICES:
            async with http.get(f"{rig.stack.child(name).url}/readyz") as answer:
                found[name] = (answer.status, await answer.json())
    return found


async def test_deltek_down_for_a_while_records_wait_and_resume_never_failed(rig):
    await rig.faults("deltek", server_error_rate=1.0, server_error_status=503)
    invoices = await approve_new(rig, 3)
    seen: set[str] = set()
    for _ in range(20):  # ten seconds of outage, looked at every half second
        states = await states_of(rig, invoices)
        seen |= set(states.values())
        assert "failed" not in seen and "posted" not in seen, states
        await asyncio.sleep(0.5)
    assert (await rig.injected("deltek")).get("server_error", 0) > 0
    assert seen & {"mapped", "posting"}, seen  # they were waiting on Deltek, not elsewhere
    await rig.faults("deltek")  # Deltek is back
    verdict = await rig.verdict(invoices, await rig.settle(invoices, within=60))
    assert verdict.ok, (verdict.line(), verdict.problems[:5])
    failed = await rig.fetchval(
        "SELECT count(*) FROM audit_events WHERE event = 'failed' AND record_key = ANY($1)",
        [f"{SIM_CONNECTION}:invoice:{invoice['id']}" for invoice in invoices],
    )
    assert failed == 0


async def test_postgres_down_readyz_says_so_and_work_resumes_when_it_returns(rig):
    postgres = rig.stack.postgres
    assert postgres is not None
    postgres.stop()
    try:
        ready = await readiness(rig)
        for name, (status, checks) in ready.items():
            assert status == 503 and checks["postgres"].startswith("error"), (name, checks)
            assert checks["kafka"] == "ok", (name, checks)
        # Approved meanwhile: the pushes are refused with 503 ("later"), the poll finds them.
        invoices = await approve_new(rig, 2) + await approve_new(rig, 1, callout=False)
    finally:
        postgres.start()

    async def all_ready() -> bool:
        return all(status == 200 for status, _ in (await readiness(rig)).values())

    await eventually(all_ready, within=30, what="every service ready again")
    verdict = await rig.verdict(invoices, await rig.settle(invoices, within=60))
    assert verdict.ok, (verdict.line(), verdict.problems[:5])


async def test_no_secret_in_logs_metrics_tables_or_command_output(rig, capsys, monkeypatch):
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", rig.database_url)
    monkeypatch.setenv("CONNECTOR_MASTER_KEY", rig.stack.master_key)
    callouts, secret = rig.callouts, rig.stack.callout_secret
    async with aiohttp.ClientSession() as http:
        pushed = await approve_new(rig, 2)  # the simulator's HMAC-signed Call Outs
        await push_again(http, callouts, pushed[0], secret, times=1)
        basic = base64.b64encode(f"{SIM_CONNECTION}:{secret}".encode()).decode()
        async with http.post(
            f"{rig.stack.child('ingest').url}/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        ) as answer:
            token = (await answer.json())["access_token"]
        async with http.post(
            callouts, data=orjson.dumps(pushed[1]), headers={"Authorization": f"Bearer {token}"}
        ) as answer:
            assert answer.status in (200, 202)
        await rig.settle(pushed)
        await rig.faults("deltek", unauthorized={"after": 0, "count": 1000})
        try:
            assert await asyncio.to_thread(main, ["connections", "test", SIM_CONNECTION]) != 0
        finally:
            await rig.faults("deltek")
        key = f"{SIM_CONNECTION}:invoice:{pushed[0]['id']}"
        for argv in (
            ["connections", "show", SIM_CONNECTION],
            ["connections", "list"],
            ["audit", key],
            ["audit", key, "--json"],
        ):
            assert await asyncio.to_thread(main, argv) == 0, argv
        output = capsys.readouterr()

    scanner = stack_scanner(rig.stack, {"issued Call Out token": token})
    findings = await sweep(rig.stack, scanner)
    findings += scanner.scan(output.out + output.err, "command output")
    assert "audit" in output.out or key in output.out  # the commands really printed something
    assert not findings, [str(f) for f in findings]
    assert scanner.scan(f"control {token} control", "control")  # the scanner is not blind
