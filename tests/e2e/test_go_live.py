"""Going live safely (issue 10): a shadow run in preview mode, ``connector preview``, then live.

A stack whose connection is in ``mode: preview`` runs push, poll, mapping and Deltek look-ups
but writes nothing; ``connector preview`` reports what would happen from Coupa and Deltek alone,
and the simulators' request logs show neither saw a write. Switching the connection to live
then posts every held invoice exactly once, judged by reading the Deltek simulator.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from devstack.driver import approve, create_invoice, deltek_batches
from devstack.sim_setup import prepare_sim_connection
from devstack.supervisor import SIM_CONNECTION
from devstack.throwaway import throwaway_stack
from services.cli.main import main
from shared.deltek.keys import batch_name
from shared.messages import invoice_job_id
from tests.e2e.conftest import Rig

pytestmark = pytest.mark.e2e

# Requests that read (and fetch a token); anything else is a write.
TOKEN_PATHS = ("/oauth2/token", "/api/token")


@pytest.fixture(scope="module")
def shadow() -> Iterator[Rig]:
    with throwaway_stack(label="golive", poll_interval_seconds=2, mode="preview") as stack:
        yield Rig(stack)


async def writes(url: str) -> dict[str, int]:
    """Every request a simulator answered since it started that was not a read or a token."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/_admin/requests") as answer:
        assert answer.status == 200
        log: dict[str, Any] = await answer.json()
    counts: dict[str, int] = log["counts"]
    return {
        request: n
        for request, n in counts.items()
        if not request.startswith(("GET ", "HEAD ")) and not request.endswith(TOKEN_PATHS)
    }


async def test_shadow_run_then_preview_then_live_posts_each_invoice_once(
    shadow: Rig, monkeypatch, tmp_path, capsys
):
    since = datetime.now(UTC) - timedelta(seconds=2)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{shadow.coupa}/_admin/suppliers", json={"name": "Unmapped Survey LLC"}
        ) as made:
            stranger = await made.json()
        invoices = []
        for n in range(6):
            created = await create_invoice(http, shadow.coupa)
            invoices.append(await approve(http, shadow.coupa, created["id"], callout=n % 2 == 0))
        odd = await create_invoice(http, shadow.coupa, supplier_id=stranger["id"])
        parked = await approve(http, shadow.coupa, odd["id"])

    # The shadow run: everything mapped and looked up, nothing sent.
    states = await shadow.settle([*invoices, parked])
    assert {states[f"{SIM_CONNECTION}:invoice:{i['id']}"] for i in invoices} == {"previewed"}
    assert states[f"{SIM_CONNECTION}:invoice:{parked['id']}"] == "parked"
    would = await shadow.fetchval(
        "SELECT count(*) FROM audit_events WHERE event = 'would_post' AND record_key = ANY($1)",
        [f"{SIM_CONNECTION}:invoice:{i['id']}" for i in invoices],
    )
    assert would == len(invoices)
    ours = {batch_name(invoice_job_id(SIM_CONNECTION, i["id"])) for i in invoices}
    async with aiohttp.ClientSession() as http:
        assert not ours & {b["Batch"] for b in await deltek_batches(http, shadow.deltek)}
    assert await writes(shadow.coupa) == {}
    assert await writes(shadow.deltek) == {}

    # The preview: the summary line, the reports, and still no write anywhere.
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", shadow.database_url)
    monkeypatch.setenv("CONNECTOR_MASTER_KEY", shadow.stack.master_key)
    out = tmp_path / "preview"
    argv = ["preview", SIM_CONNECTION, "--since", since.isoformat(), "--out", str(out)]
    capsys.readouterr()
    assert await asyncio.to_thread(main, argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == (
        "preview: 6 invoices would post, 1 would park, 0 already in Deltek; "
        "0 vendors would be created, 0 updated"
    )
    assert sum(line.startswith("preview:") for line in lines) == 1
    with (out / "invoices.csv").open() as table:
        rows = list(csv.DictReader(table))
    assert sorted(r["verdict"] for r in rows) == ["park", *["post"] * 6]
    assert {r["coupa_id"] for r in rows} == {str(i["id"]) for i in [*invoices, parked]}
    page = (out / "report.html").read_text()
    assert all(i["invoice-number"] in page for i in invoices)
    assert "has no Deltek vendor" in page
    assert await writes(shadow.coupa) == {}
    assert await writes(shadow.deltek) == {}

    # Live: every held invoice goes to Deltek, once; the parked one still waits.
    await asyncio.to_thread(
        prepare_sim_connection, shadow.stack, poll_interval_seconds=2, mode="live"
    )
    states = await shadow.settle(invoices, through=("previewed",))
    verdict = await shadow.verdict(invoices, states)
    assert verdict.ok, (verdict.line(), verdict.problems[:5], states)
