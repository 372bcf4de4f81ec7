"""Dead letters on the real broker: a message its handler refuses is dead-lettered, the loop goes
on, and after the fix ``connector replay --dead-letters`` brings it back to be handled once."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest

from services.cli.main import main
from shared.kafka.consumer import ConsumerLoop
from shared.kafka.envelope import Coordinates, Envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import dead_letter_topic
from shared.service.metrics import ServiceMetrics
from tests.support import eventually, invoice_event, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, db_url, kafka_bootstrap, topics) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", db_url)
    monkeypatch.setenv("CONNECTOR_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("CONNECTOR_KAFKA__TOPIC_PREFIX", topics.prefix)


async def replay(capsys, *args: str) -> str:
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["replay", "--dead-letters", *args]) == 0
    return str(capsys.readouterr().out)


async def test_a_refused_message_is_dead_lettered_then_replayed_once_after_the_fix(
    kafka_bootstrap, topics, kafka_tuning, consumer_tuning, db_url, cli_env, capsys
):
    publisher = Publisher(kafka_bootstrap, kafka_tuning)
    await publisher.start()
    fixed = False
    handled: list[int] = []

    async def handler(envelope: Envelope, coords: Coordinates) -> None:
        coupa_id = envelope.payload["invoice"]["id"]
        if coupa_id == 2 and not fixed:
            raise ValueError("invoice 2 fails validation")
        handled.append(coupa_id)

    loop = ConsumerLoop(
        bootstrap=kafka_bootstrap,
        group_id=topics.prefix + "dlq-test",
        topics=[topics.coupa_invoices],
        handler=handler,
        publisher=publisher,
        metrics=ServiceMetrics("test"),
        kafka=kafka_tuning,
        tuning=consumer_tuning,
    )
    task = asyncio.create_task(loop.run())
    try:
        for coupa_id in (1, 2, 3):
            await publisher.publish(topics.coupa_invoices, invoice_event("acme", coupa_id))
        await publisher.publish_raw(topics.coupa_invoices, b"acme:invoice:9", b"{not json")

        async def others_handled() -> bool:
            return sorted(handled) == [1, 3]

        await eventually(others_handled, what="the loop going on past the poison message")
        dlq = dead_letter_topic(topics.coupa_invoices)
        assert len(await read_topic(kafka_bootstrap, dlq, expect=2)) == 2

        dry = await replay(capsys, "coupa.invoices", "--key", "acme:invoice:2", "--dry-run")
        assert "would send acme:invoice:2" in dry and "invoice 2 fails validation" in dry
        assert "would replay 1 dead letter(s)" in dry

        fixed = True
        sent = await replay(capsys, "coupa.invoices", "--key", "acme:invoice:2")
        assert "replayed 1 dead letter(s)" in sent

        async def replayed_handled() -> bool:
            return 2 in handled

        await eventually(replayed_handled, what="the replayed message being handled")
        again = await replay(capsys, dlq, "--key", "acme:invoice:2")
        assert "1 dead letter(s) were replayed before; skipped" in again
        assert "replayed 0 dead letter(s)" in again
        await asyncio.sleep(1)  # time for a second delivery, were one sent
        assert sorted(handled) == [1, 2, 3]
    finally:
        loop.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)
        await publisher.stop()

    conn = await asyncpg.connect(db_url)
    try:
        audit = await conn.fetch(
            "SELECT record_key, details FROM audit_events WHERE event = 'dead_letter_replayed'"
        )
        kept = await conn.fetchval("SELECT count(*) FROM dead_letter_replays")
    finally:
        await conn.close()
    assert [row["record_key"] for row in audit] == ["acme:invoice:2"]
    assert kept == 1


async def test_choosing_by_original_coordinates_and_refusing_stray_filters(
    kafka_bootstrap, topics, kafka_tuning, cli_env, capsys
):
    assert await asyncio.to_thread(main, ["replay", "--key", "acme:invoice:1"]) == 2
    assert "--dead-letters" in capsys.readouterr().out
    out = await replay(capsys, "coupa.invoices", "--offset", "0:5", "--dry-run")
    assert "would replay 0 dead letter(s)" in out
