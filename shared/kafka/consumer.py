"""The consumer loop: decode, hand to a handler, commit only after the handler finished.

At-least-once into idempotent handlers. Offsets are committed per partition after every
message of a fetched batch was handled, so a crash re-delivers at most that batch. A message
that cannot be decoded goes to the topic's dead-letter topic with the error and its original
coordinates. A handler failure classed as transient (database or network down) is retried with
backoff for as long as it takes: waiting is right, giving up would lose the record. Any other
failure is retried ``max_attempts`` times, then dead-lettered, so one poison message never
blocks its partition.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError

from shared.kafka.envelope import Coordinates, Envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import dead_letter_topic
from shared.outages import OUTAGES
from shared.service.metrics import ServiceMetrics
from shared.service.waiting import wait_for_event
from shared.settings import ConsumerTuning, KafkaTuning

log = logging.getLogger(__name__)

MessageHandler = Callable[[Envelope, Coordinates], Awaitable[None]]
# Told the record key (if the message had one) and the error of each dead-lettered message.
DeadLetterHook = Callable[[str | None, str], Awaitable[None]]


class TransientError(Exception):
    """Raised by a handler when the same message will succeed later: retry, never dead-letter."""


_RETRY_FOREVER: tuple[type[BaseException], ...] = (TransientError, *OUTAGES)


class ConsumerLoop:
    """Owns one consumer group member; ``run`` until ``stop`` is called, then drain and commit."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        topics: list[str],
        handler: MessageHandler,
        publisher: Publisher,
        metrics: ServiceMetrics,
        kafka: KafkaTuning,
        tuning: ConsumerTuning,
        on_dead_letter: DeadLetterHook | None = None,
    ) -> None:
        self._on_dead_letter = on_dead_letter
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._topics = topics
        self._handler = handler
        self._publisher = publisher
        self._metrics = metrics
        self._kafka = kafka
        self._tuning = tuning
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask the loop to finish the message in hand, commit, and leave the group."""
        self._stopping.set()

    async def run(self) -> None:
        consumer = await self._start_consumer()
        if consumer is None:
            return
        try:
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=self._kafka.max_batch)
                for tp, messages in batch.items():
                    if self._stopping.is_set():
                        break
                    await self._handle_partition(consumer, tp, messages)
                await self._report_lag(consumer)
        finally:
            await consumer.stop()

    async def _start_consumer(self) -> AIOKafkaConsumer | None:
        """Join the group, waiting out a broker that is not up yet."""
        attempt = 0
        while not self._stopping.is_set():
            consumer = AIOKafkaConsumer(
                *self._topics,
                bootstrap_servers=self._bootstrap,
                group_id=self._group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=self._kafka.session_timeout_ms,
                heartbeat_interval_ms=self._kafka.heartbeat_interval_ms,
                max_poll_interval_ms=self._kafka.max_poll_interval_ms,
            )
            try:
                started = await self._unless_stopped(consumer.start())
            except KafkaError as exc:
                await consumer.stop()
                attempt += 1
                log.warning("broker not reachable, retrying", extra={"error": str(exc)})
                await self._pause(attempt)
                continue
            if not started:
                await consumer.stop()
                return None
            return consumer
        return None

    async def _unless_stopped(self, work: Awaitable[None]) -> bool:
        """Await ``work`` unless a stop comes first (a group join can take many seconds)."""
        task = asyncio.ensure_future(work)
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, KafkaError):
            await task
        return False

    async def _handle_partition(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, messages: list[ConsumerRecord]
    ) -> None:
        next_offset: int | None = None
        for message in messages:
            if self._stopping.is_set():
                break
            if not await self._handle_message(message):
                break  # stopping while a transient failure was being retried: leave it uncommitted
            next_offset = message.offset + 1
        if next_offset is None:
            return
        try:
            await consumer.commit({tp: next_offset})
        except CommitFailedError:
            # The group rebalanced under us; the new owner re-reads and the handlers are idempotent.
            log.warning(
                "commit lost to a rebalance", extra={"topic": tp.topic, "partition": tp.partition}
            )

    async def _handle_message(self, message: ConsumerRecord) -> bool:
        """Handle one message to its end (done or dead-lettered); False if stopped before that."""
        coords = Coordinates(
            topic=message.topic, partition=message.partition, offset=message.offset
        )
        try:
            envelope = Envelope.decode(message.value)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(message, f"undecodable message: {exc}", attempts=0)
            return True
        failures = 0
        while True:
            started = time.perf_counter()
            try:
                await self._handler(envelope, coords)
            except _RETRY_FOREVER as exc:
                failures += 1
                self._metrics.messages.labels(message.topic, "retry").inc()
                log.warning(
                    "transient failure, will retry",
                    extra={"key": envelope.key, "error": repr(exc), "attempt": failures},
                )
            except Exception as exc:
                failures += 1
                self._metrics.messages.labels(message.topic, "retry").inc()
                log.exception("handler failed", extra={"key": envelope.key, "attempt": failures})
                if failures >= self._tuning.max_attempts:
                    await self._dead_letter(message, f"{type(exc).__name__}: {exc}", failures)
                    return True
            else:
                self._metrics.handle_seconds.labels(message.topic).observe(
                    time.perf_counter() - started
                )
                self._metrics.messages.labels(message.topic, "ok").inc()
                return True
            if not await self._pause(failures):
                return False

    async def _dead_letter(self, message: ConsumerRecord, error: str, attempts: int) -> None:
        """Keep the message, with why and where it came from, on ``<topic>.dlq``; never drop it."""
        value = message.value or b""
        body = {
            "error": error,
            "attempts": attempts,
            "failed_at": datetime.now(UTC).isoformat(),
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": message.key.decode(errors="replace") if message.key else None,
            "value_base64": base64.b64encode(value).decode(),
        }
        await self._publisher.publish_raw(
            dead_letter_topic(message.topic), message.key, orjson.dumps(body)
        )
        self._metrics.messages.labels(message.topic, "dead_lettered").inc()
        log.error(
            "message dead-lettered",
            extra={
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
            },
        )
        if self._on_dead_letter is not None:
            await self._on_dead_letter(body["key"], error)

    async def _pause(self, attempt: int) -> bool:
        """Sleep a capped, jittered backoff; return False if asked to stop meanwhile."""
        ceiling = min(
            self._tuning.backoff_max_seconds,
            self._tuning.backoff_initial_seconds * 2 ** min(attempt, 30),
        )
        return not await wait_for_event(self._stopping, random.uniform(0, ceiling))

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            position = await consumer.position(tp)
            self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(highwater - position)
