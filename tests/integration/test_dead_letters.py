"""Dead letters on the real broker: a message its handler refuses is dead-lettered, the loop goes
on, and after the fix ``connector replay --dead-letters`` brings it back to be handled once."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib

import asyncpg
import orjson
import pytest

from services.cli.main import main
from shared.db.pool import create_pool
from shared.dead_letters import DeadLetterStore
from shared.kafka.consumer import ConsumerLoop
from shared.kafka.delivery import INLINE_VALUE_BYTES
from shared.kafka.envelope import Coordinates, Envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import dead_letter_topic
from shared.records import record_received
from shared.service.metrics import ServiceMetrics
from shared.settings import KafkaTuning
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


async def test_a_large_refused_message_is_kept_in_postgres_and_replayed_whole(
    kafka_bootstrap, topics, kafka_tuning, consumer_tuning, db_url, cli_env, capsys
):
    """900 KB, refused: base64 inline its dead letter would be over the broker's limit. The
    service's store keeps the original in Postgres, the dead letter carries its digest, the
    record is marked failed with the reason, and the replay sends the original back whole."""
    event = invoice_event("acme", 2)
    invoice = {**event.payload["invoice"], "comments": "c" * 900_000}
    large = event.model_copy(update={"payload": {**event.payload, "invoice": invoice}})
    value = large.encode()
    assert len(value) < KafkaTuning().max_message_bytes < len(value) * 4 / 3
    pool = await create_pool(db_url)
    publisher = Publisher(kafka_bootstrap, kafka_tuning)
    await publisher.start()
    coords = Coordinates(topic=topics.coupa_invoices, partition=0, offset=0)
    async with pool.acquire() as conn:
        await record_received(conn, large, coords, service="mapper")
    fixed = False
    handled: list[Envelope] = []

    async def handler(envelope: Envelope, coords: Coordinates) -> None:
        if not fixed:
            raise ValueError("invoice 2 fails validation")
        handled.append(envelope)

    loop = ConsumerLoop(
        bootstrap=kafka_bootstrap,
        group_id=topics.prefix + "dlq-large",
        topics=[topics.coupa_invoices],
        handler=handler,
        publisher=publisher,
        metrics=ServiceMetrics("test"),
        kafka=kafka_tuning,
        tuning=consumer_tuning,
        on_dead_letter=DeadLetterStore(pool, "mapper"),
    )
    task = asyncio.create_task(loop.run())
    try:
        await publisher.publish(topics.coupa_invoices, large)

        async def marked_failed() -> bool:
            state = await pool.fetchval(
                "SELECT state FROM records WHERE record_key = $1", large.key
            )
            return bool(state == "failed")

        await eventually(marked_failed, what="the large message dead-lettered")
        (raw,) = await read_topic(
            kafka_bootstrap, dead_letter_topic(topics.coupa_invoices), expect=1
        )
        copy = orjson.loads(raw)
        assert len(raw) < INLINE_VALUE_BYTES and "value_base64" not in copy
        assert copy["value_sha256"] == hashlib.sha256(value).hexdigest()
        kept = await pool.fetchval(
            "SELECT value FROM dead_letter_values WHERE sha256 = $1", copy["value_sha256"]
        )
        assert kept == value
        reason = await pool.fetchval(
            "SELECT last_error FROM records WHERE record_key = $1", large.key
        )
        assert "dead letter" in reason and "invoice 2 fails validation" in reason

        fixed = True
        sent = await replay(capsys, "coupa.invoices", "--key", large.key)
        assert "replayed 1 dead letter(s)" in sent

        async def replayed_handled() -> bool:
            return bool(handled)

        await eventually(replayed_handled, what="the replayed message being handled")
        assert [(e.event_id, e.payload) for e in handled] == [(large.event_id, large.payload)]
    finally:
        loop.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)
        await publisher.stop()
        await pool.close()
