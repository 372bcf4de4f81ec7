"""Replay and audit from the command line, against real Postgres and a real broker."""

from __future__ import annotations

import asyncpg
import orjson
import pytest

from services.cli.main import main
from shared.db.pool import create_pool
from shared.kafka.envelope import Coordinates, Envelope
from shared.messages import POST_AP_INVOICE
from shared.records import record_received, transition
from tests.support import invoice_event, read_topic

pytestmark = pytest.mark.integration

COMMAND = {"job_id": "acme:invoice:2", "total": "10.00"}


@pytest.fixture
def cli_env(monkeypatch, db_url, kafka_bootstrap, topics):
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", db_url)
    monkeypatch.setenv("CONNECTOR_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("CONNECTOR_KAFKA__TOPIC_PREFIX", topics.prefix)


async def seed(db_url: str) -> None:
    """Three invoices: one received, one mapped (with a command), one parked."""
    pool = await create_pool(db_url)
    try:
        async with pool.acquire() as conn:
            for coupa_id in (1, 2, 3):
                coords = Coordinates(topic="coupa.invoices", partition=0, offset=coupa_id)
                record_id, _ = await record_received(
                    conn, invoice_event("acme", coupa_id), coords, service="mapper"
                )
                if coupa_id == 2:
                    await transition(
                        conn,
                        record_id=record_id,
                        record_key="acme:invoice:2",
                        state="mapped",
                        service="mapper",
                        event="mapped",
                        details={},
                        job_id="acme:invoice:2",
                        command=COMMAND,
                    )
                if coupa_id == 3:
                    await transition(
                        conn,
                        record_id=record_id,
                        record_key="acme:invoice:3",
                        state="parked",
                        service="mapper",
                        event="parked",
                        details={},
                        reason="Coupa supplier V-00217 has no Deltek vendor",
                        waiting_for=[{"kind": "supplier", "coupa_value": "217"}],
                    )
    finally:
        await pool.close()


async def test_dry_run_shows_what_would_be_sent_and_sends_nothing(
    cli_env, db_url, kafka_bootstrap, topics, capsys
):
    await seed(db_url)
    assert await _main_async(["replay", "--state", "unfinished", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        "would send InvoiceApproved for acme:invoice:1 (received) to " + topics.coupa_invoices
        in out
    )
    assert f"would send PostApInvoice for acme:invoice:2 (mapped) to {topics.deltek_writes}" in out
    assert "acme:invoice:3" not in out
    assert "would replay 2 record(s)" in out
    assert await read_topic(kafka_bootstrap, topics.coupa_invoices, expect=1, within=2) == []


async def test_replay_by_state_publishes_event_or_command_and_audits_it(
    cli_env, db_url, kafka_bootstrap, topics
):
    await seed(db_url)
    assert await _main_async(["replay", "--state", "unfinished"]) == 0
    invoices = [
        Envelope.decode(v)
        for v in await read_topic(kafka_bootstrap, topics.coupa_invoices, expect=1)
    ]
    writes = [
        Envelope.decode(v)
        for v in await read_topic(kafka_bootstrap, topics.deltek_writes, expect=1)
    ]
    assert [(e.key, e.schema_name, e.source) for e in invoices] == [
        ("acme:invoice:1", "InvoiceApproved", "replay")
    ]
    assert invoices[0].payload == invoice_event("acme", 1).payload
    assert [(e.key, e.schema_name) for e in writes] == [("acme:invoice:2", POST_AP_INVOICE)]
    assert writes[0].payload == COMMAND
    conn = await asyncpg.connect(db_url)
    try:
        replayed = await conn.fetch(
            "SELECT record_key FROM audit_events WHERE event = 'replayed' ORDER BY record_key"
        )
    finally:
        await conn.close()
    assert [r["record_key"] for r in replayed] == ["acme:invoice:1", "acme:invoice:2"]


async def test_replay_one_parked_record_sends_its_coupa_event_again(
    cli_env, db_url, kafka_bootstrap, topics
):
    await seed(db_url)
    assert await _main_async(["replay", "--record", "acme:invoice:3"]) == 0
    sent = [
        Envelope.decode(v)
        for v in await read_topic(kafka_bootstrap, topics.coupa_invoices, expect=1)
    ]
    assert [e.key for e in sent] == ["acme:invoice:3"]


async def test_replay_without_criteria_refuses(cli_env, capsys):
    assert await _main_async(["replay"]) == 2
    assert "say what to replay" in capsys.readouterr().out


async def test_audit_prints_the_story_by_key_id_or_invoice_number(cli_env, db_url, capsys):
    await seed(db_url)
    assert await _main_async(["audit", "acme:invoice:3"]) == 0
    story = capsys.readouterr().out
    assert "acme:invoice:3" in story
    assert "parked" in story and "reason: Coupa supplier V-00217 has no Deltek vendor" in story
    assert "received" in story and "coupa.invoices[0]@3" in story
    assert await _main_async(["audit", "INV-3"]) == 0
    assert capsys.readouterr().out == story
    assert await _main_async(["audit", "acme:invoice:3", "--json"]) == 0
    events = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in events] == ["received", "parked"]
    assert await _main_async(["audit", "nothing-like-this"]) == 1


async def _main_async(argv: list[str]) -> int:
    """Run the CLI in a worker thread: its commands call asyncio.run themselves."""
    import asyncio

    return await asyncio.to_thread(main, argv)
