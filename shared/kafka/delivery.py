"""One message to its end: decoded, handled (retried as its failure deserves), or dead-lettered.

A message that cannot be decoded goes to the topic's dead-letter topic with the error and its
original coordinates. A handler failure classed as transient (database or network down) is
retried with backoff for as long as it takes: waiting is right, giving up would lose the record.
Any other failure is retried ``max_attempts`` times, then dead-lettered, so one poison message
never blocks its key.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import orjson
from aiokafka import ConsumerRecord
from pydantic import ValidationError

from shared.kafka.envelope import Coordinates, Envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import dead_letter_topic
from shared.outages import OUTAGES
from shared.service.metrics import ServiceMetrics
from shared.service.waiting import wait_for_event
from shared.settings import ConsumerTuning

log = logging.getLogger(__name__)

MessageHandler = Callable[[Envelope, Coordinates], Awaitable[None]]
# Told the record key (if the message had one) and the error of each dead-lettered message.
DeadLetterHook = Callable[[str | None, str], Awaitable[None]]


class TransientError(Exception):
    """Raised by a handler when the same message will succeed later: retry, never dead-letter."""


_RETRY_FOREVER: tuple[type[BaseException], ...] = (TransientError, *OUTAGES)


class Delivery:
    """Hands messages to ``handler``; ``stopping`` ends retries early (leaving one unfinished)."""

    def __init__(
        self,
        *,
        handler: MessageHandler,
        publisher: Publisher,
        metrics: ServiceMetrics,
        tuning: ConsumerTuning,
        stopping: asyncio.Event,
        on_dead_letter: DeadLetterHook | None = None,
    ) -> None:
        self._handler = handler
        self._publisher = publisher
        self._metrics = metrics
        self._tuning = tuning
        self._stopping = stopping
        self._on_dead_letter = on_dead_letter

    async def __call__(self, message: ConsumerRecord) -> bool:
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
            if not await self.pause(failures):
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

    async def pause(self, attempt: int) -> bool:
        """Sleep a capped, jittered backoff; return False if asked to stop meanwhile."""
        ceiling = min(
            self._tuning.backoff_max_seconds,
            self._tuning.backoff_initial_seconds * 2 ** min(attempt, 30),
        )
        return not await wait_for_event(self._stopping, random.uniform(0, ceiling))
