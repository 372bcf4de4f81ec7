"""Dead letters kept whole and taken back: large originals in Postgres, ``<topic>.dlq`` read,
chosen, and re-published each once.

A dead letter (``shared.kafka.delivery.DeadLetterCopy``) keeps the key, coordinates and error of
the original and its value, inline or, when large, by the digest ``DeadLetterStore`` keeps it
under in ``dead_letter_values``; the store is also the hook that marks the record failed. After
the fix (a mapping, a code change) ``connector replay --dead-letters`` puts the original bytes
back on the original topic, where the idempotent handlers take them as any other delivery. Each
replayed dead letter is kept in ``dead_letter_replays`` under the digest of its bytes on the
dead-letter topic, which stays true across a restart of an in-memory broker where offsets start
again at 0; a second replay of the same dead letter sends nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from shared.db.pool import Connection, Pool
from shared.kafka.delivery import DeadLetterCopy
from shared.kafka.envelope import Coordinates
from shared.kafka.producer import Publisher
from shared.logs import redact
from shared.outages import OUTAGES
from shared.records import append_audit, mark_dead_lettered

log = logging.getLogger(__name__)


class DeadLetterStore:
    """A service's dead-letter hook (``shared.kafka.delivery.DeadLetterHook``) on Postgres."""

    def __init__(self, pool: Pool, service: str) -> None:
        self._pool = pool
        self._service = service

    async def keep_value(self, value: bytes, origin: Coordinates) -> str:
        """Keep ``value`` under its sha256 (once, however often it fails); return the digest."""
        digest = hashlib.sha256(value).hexdigest()
        async with self._pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO dead_letter_values (sha256, value, topic, kafka_partition,
                                                   kafka_offset)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (sha256) DO NOTHING""",
                digest,
                value,
                origin.topic,
                origin.partition,
                origin.offset,
            )
        return digest

    async def dead_lettered(self, record_key: str | None, error: str) -> None:
        """Mark the message's record failed, so it shows with its reason, not stuck."""
        if record_key is None:
            return
        try:
            async with self._pool.acquire() as conn:
                await mark_dead_lettered(conn, record_key, self._service, error)
        except OUTAGES as exc:
            # The dead letter itself is kept; `connector replay` can still take it back.
            log.warning("could not mark a dead-lettered record", extra={"error": repr(exc)})


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
    # The original: inline, or None when it is kept in ``dead_letter_values`` under this digest.
    value: bytes | None
    value_sha256: str | None
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
        copy = DeadLetterCopy.model_validate_json(raw)
        value = (
            None
            if copy.value_base64 is None
            else base64.b64decode(copy.value_base64, validate=True)
        )
    except (ValidationError, binascii.Error):
        return None
    return DeadLetter(
        digest=hashlib.sha256(raw).hexdigest(),
        dlq_topic=dlq_topic,
        dlq_partition=partition,
        dlq_offset=offset,
        topic=copy.topic,
        partition=copy.partition,
        offset=copy.offset,
        key=copy.key,
        value=value,
        value_sha256=copy.value_sha256,
        error=copy.error,
    )


async def original(conn: Connection, letter: DeadLetter) -> bytes:
    """The message value ``letter`` stands for, read back from Postgres when it was large."""
    if letter.value is not None:
        return letter.value
    value = await conn.fetchval(
        "SELECT value FROM dead_letter_values WHERE sha256 = $1", letter.value_sha256
    )
    if value is None:
        raise LookupError(
            f"the original of the dead letter at {letter.dlq_topic}:{letter.dlq_partition}:"
            f"{letter.dlq_offset} (sha256 {letter.value_sha256}) is not in dead_letter_values"
        )
    return bytes(value)


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
            await publisher.publish_raw(letter.topic, key, await original(conn, letter))
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
