"""The record and dead-letter gauges, counted from a real Postgres and a real broker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from shared.db.pool import Pool, create_pool
from shared.embedded.process import free_port
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics, dead_letter_topic
from shared.service.state_gauges import DeadLetterOffsets, StateGaugeLoop, StateGauges


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(db_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def seed_records(pool: Pool) -> None:
    await pool.executemany(
        "INSERT INTO connections (name, settings) VALUES ($1, $2)",
        [("acme", {}), ("idle", {})],
    )
    rows = [
        ("1", "parked", "3 hours"),
        ("2", "parked", "5 minutes"),
        ("3", "failed", "1 day"),
        ("4", "posting", "1 minute"),
        ("5", "posted", "2 days"),
        ("6", "superseded", "2 days"),
    ]
    await pool.executemany(
        """INSERT INTO records (record_key, connection, kind, coupa_id, version, state, payload,
                                created_at)
           VALUES ('acme:invoice:' || $1, 'acme', 'invoice', $1, 'v1', $2, '{}',
                   now() - $3::text::interval)""",
        rows,
    )


async def test_records_oldest_parked_and_dead_letters(
    pool: Pool, topics: Topics, publisher: Publisher, kafka_bootstrap: str
) -> None:
    await seed_records(pool)
    writes_dlq = dead_letter_topic(topics.deltek_writes)
    for n in range(3):
        await publisher.publish_raw(writes_dlq, b"acme:invoice:9", f"letter {n}".encode())
    registry = CollectorRegistry()
    offsets = DeadLetterOffsets(kafka_bootstrap, topics.main())
    loop = StateGaugeLoop(pool, StateGauges(registry), offsets, interval_seconds=60)
    try:
        [holding] = [span for span in await offsets.retained() if span.end > span.first]
        # The second of them was replayed: it no longer waits for a decision.
        await pool.execute(
            """INSERT INTO dead_letter_replays (digest, dlq_topic, dlq_partition, dlq_offset,
                      topic, kafka_partition, kafka_offset, record_key, replayed_by)
               VALUES ('d1', $1, $2, $3, $4, 0, 0, 'acme:invoice:9', 'test')""",
            writes_dlq,
            holding.partition,
            holding.first + 1,
            topics.deltek_writes,
        )
        await loop.update()
    finally:
        await offsets.close()
    value = registry.get_sample_value
    assert value("connector_records", {"connection": "acme", "state": "parked"}) == 2
    assert value("connector_records", {"connection": "acme", "state": "failed"}) == 1
    assert value("connector_records", {"connection": "acme", "state": "posting"}) == 1
    assert value("connector_records", {"connection": "acme", "state": "posted"}) is None
    assert value("connector_records", {"connection": "idle", "state": "parked"}) == 0
    oldest = value("connector_oldest_parked_seconds", {"connection": "acme"})
    assert oldest is not None and 3 * 3600 - 60 < oldest < 3 * 3600 + 60
    assert value("connector_oldest_parked_seconds", {"connection": "idle"}) == 0
    assert value("connector_dead_letters", {"topic": topics.deltek_writes}) == 2
    assert value("connector_dead_letters", {"topic": topics.coupa_invoices}) == 0
    assert (value("connector_state_gauges_updated_timestamp_seconds") or 0) > 0


async def test_records_are_counted_while_the_broker_is_unreachable(pool: Pool) -> None:
    await seed_records(pool)
    registry = CollectorRegistry()
    gauges = StateGauges(registry)
    gauges.dead_letters.labels("deltek.writes").set(4)  # counted before the broker went away
    offsets = DeadLetterOffsets(f"127.0.0.1:{free_port()}", ["deltek.writes"])
    loop = StateGaugeLoop(pool, gauges, offsets, interval_seconds=60)
    try:
        await loop.update()
    finally:
        await offsets.close()
    value = registry.get_sample_value
    assert value("connector_records", {"connection": "acme", "state": "parked"}) == 2
    assert value("connector_dead_letters", {"topic": "deltek.writes"}) == 4
