"""Dead letters back on their topic: read ``<topic>.dlq``, choose, re-publish each one once.

A dead letter (see ``shared.kafka.consumer``) keeps the original value, key and coordinates and
the error. After the fix (a mapping, a code change) ``connector replay --dead-letters`` puts the
original bytes back on the original topic, where the idempotent handlers take them as any other
delivery. Each replayed dead letter is kept in ``dead_letter_replays`` under the digest of its
bytes on the dead-letter topic, which stays true across a restart of an in-memory broker where
offsets start again at 0; a second replay of the same dead letter sends nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.db.pool import Connection
from shared.kafka.producer import Publisher
from shared.logs import redact
from shared.records import append_audit


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter topic and the original it carries."""

    digest: str
    dlq_topic: str
    dlq_partition: int
    dlq_offset: int
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    error: str

    @property
    def record_key(self) -> str:
        """The record the audit trail files it under; a keyless message gets its coordinates."""
        return self.key or f"dead-letter:{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True)
class Choice:
    """Which dead letters to replay: all, or those with this key and/or original coordinates."""

    key: str | None = None
    partition: int | None = None
    offset: int | None = None

    def takes(self, letter: DeadLetter) -> bool:
        return (
            (self.key is None or letter.key == self.key)
            and (self.partition is None or letter.partition == self.partition)
            and (self.offset is None or letter.offset == self.offset)
        )


def parse(dlq_topic: str, partition: int, offset: int, raw: bytes) -> DeadLetter | None:
    """The dead letter in ``raw``; None for anything the consumer loop did not write."""
    try:
        body = orjson.loads(raw)
        value = base64.b64decode(body["value_base64"], validate=True)
        return DeadLetter(
            digest=hashlib.sha256(raw).hexdigest(),
            dlq_topic=dlq_topic,
            dlq_partition=partition,
            dlq_offset=offset,
            topic=str(body["topic"]),
            partition=int(body["partition"]),
            offset=int(body["offset"]),
            key=body.get("key"),
            value=value,
            error=str(body.get("error") or ""),
        )
    except (orjson.JSONDecodeError, binascii.Error, KeyError, TypeError, ValueError):
        return None


async def read_dead_letters(bootstrap: str, dlq_topic: str) -> list[DeadLetter]:
    """Every dead letter on ``dlq_topic`` now, read without a consumer group (nothing commits)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(dlq_topic, p) for p in consumer.partitions_for_topic(dlq_topic) or ()
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset < ends[tp] and message.value is not None:
                        letter = parse(dlq_topic, tp.partition, message.offset, message.value)
                        if letter is not None:
                            letters.append(letter)
        return sorted(letters, key=lambda d: (d.dlq_partition, d.dlq_offset))
    finally:
        await consumer.stop()


async def not_replayed(conn: Connection, letters: list[DeadLetter]) -> list[DeadLetter]:
    """Those of ``letters`` no earlier replay has sent."""
    done = {
        row["digest"]
        for row in await conn.fetch(
            "SELECT digest FROM dead_letter_replays WHERE digest = ANY($1::text[])",
            [letter.digest for letter in letters],
        )
    }
    return [letter for letter in letters if letter.digest not in done]


async def replay(
    conn: Connection, publisher: Publisher, letters: list[DeadLetter], *, by: str
) -> list[DeadLetter]:
    """Re-publish each dead letter not replayed before, note it, and audit it; return those sent.

    The note is written in the same transaction as the audit event and committed only after the
    broker acknowledged the message: a failed publish leaves it replayable, and two replays
    racing each other send it at most once more (the second waits on the row, then skips it).
    """
    sent = []
    for letter in letters:
        async with conn.transaction():
            claimed = await conn.fetchval(
                """INSERT INTO dead_letter_replays (digest, dlq_topic, dlq_partition, dlq_offset,
                          topic, kafka_partition, kafka_offset, record_key, replayed_by)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (digest) DO NOTHING
                   RETURNING digest""",
                letter.digest,
                letter.dlq_topic,
                letter.dlq_partition,
                letter.dlq_offset,
                letter.topic,
                letter.partition,
                letter.offset,
                letter.record_key,
                by,
            )
            if claimed is None:
                continue
            key = letter.key.encode() if letter.key is not None else None
            await publisher.publish_raw(letter.topic, key, letter.value)
            await append_audit(
                conn,
                record_key=letter.record_key,
                service=by,
                event="dead_letter_replayed",
                details={
                    "error": redact(letter.error),
                    "from": f"{letter.dlq_topic}:{letter.dlq_partition}:{letter.dlq_offset}",
                    "to": letter.topic,
                    "original": f"{letter.topic}:{letter.partition}:{letter.offset}",
                },
            )
        sent.append(letter)
    return sent
