"""One message to its end: decoded, handled (retried as its failure deserves), or dead-lettered.

A message that cannot be decoded goes to the topic's dead-letter topic with the error and its
original coordinates. A handler failure classed as transient (database or network down) is
retried with backoff for as long as it takes: waiting is right, giving up would lose the record.
Any other failure is retried ``max_attempts`` times, then dead-lettered, so one poison message
never blocks its key.

A dead-letter copy is bounded, so that it always fits the broker however large the original
was: the error is redacted and cut (``scrub``), and an original over ``INLINE_VALUE_BYTES`` is
kept in Postgres by the hook (``shared.dead_letters.DeadLetterStore``) and carried by its digest
(base64 would make a 786 KB original a 1 MB copy). Setting a message aside is never given up:
when Postgres or the broker refuses, it is retried with backoff like an outage, and the message
stays unfinished (so uncommitted) until its copy is on the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from aiokafka import ConsumerRecord
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from shared.kafka.envelope import Coordinates, Envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import dead_letter_topic
from shared.logs import scrub
from shared.outages import OUTAGES
from shared.service.metrics import ServiceMetrics
from shared.service.waiting import wait_for_event
from shared.settings import ConsumerTuning

log = logging.getLogger(__name__)

MessageHandler = Callable[[Envelope, Coordinates], Awaitable[None]]

# Originals up to this size travel inside the copy; larger ones are kept by the hook.
INLINE_VALUE_BYTES = 64 * 1024
# An exception text or a remote error page can be any length; the copy keeps this much.
ERROR_CHARS = 2000


class DeadLetterHook(Protocol):
    """What setting a message aside needs beyond the broker; a service's keeps large originals
    in Postgres and marks the record failed (``shared.dead_letters.DeadLetterStore``)."""

    async def keep_value(self, value: bytes, origin: Coordinates) -> str:
        """Keep an original too large to copy whole, durably; return the sha256 (hex) it is
        kept under. Raising means not kept: the loop tries again after a pause."""
        ...

    async def dead_lettered(self, record_key: str | None, error: str) -> None:
        """Told once the copy is on the dead-letter topic, with the message key and the error."""
        ...


class DeadLetterCopy(BaseModel):
    """What ``<topic>.dlq`` carries: why and where a message failed, and the original value,
    inline (``value_base64``) or by the digest it is kept under (``value_sha256``)."""

    model_config = ConfigDict(frozen=True)

    error: str
    attempts: int
    failed_at: datetime
    topic: str
    partition: int
    offset: int
    key: str | None = None
    value_base64: str | None = None
    value_sha256: str | None = None

    @model_validator(mode="after")
    def _one_value(self) -> DeadLetterCopy:
        if (self.value_base64 is None) == (self.value_sha256 is None):
            raise ValueError("a dead letter carries its value either inline or by digest")
        return self

    def encode(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


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
            return await self._dead_letter(message, coords, f"undecodable message: {exc}", 0)
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
                    error = f"{type(exc).__name__}: {exc}"
                    return await self._dead_letter(message, coords, error, failures)
            else:
                self._metrics.handle_seconds.labels(message.topic).observe(
                    time.perf_counter() - started
                )
                self._metrics.messages.labels(message.topic, "ok").inc()
                return True
            if not await self.pause(failures):
                return False

    async def _dead_letter(
        self, message: ConsumerRecord, coords: Coordinates, error: str, attempts: int
    ) -> bool:
        """Keep the message, with why and where it came from, on ``<topic>.dlq``; never drop it.
        False if a stop came before its copy was kept (the message stays unfinished)."""
        error = scrub(error, limit=ERROR_CHARS)
        copy = await self._until_kept(message, coords, error, attempts)
        if copy is None:
            return False
        self._metrics.messages.labels(message.topic, "dead_lettered").inc()
        log.error("message dead-lettered", extra=coords.model_dump())
        if self._on_dead_letter is not None:
            await self._on_dead_letter.dead_lettered(copy.key, error)
        return True

    async def _until_kept(
        self, message: ConsumerRecord, coords: Coordinates, error: str, attempts: int
    ) -> DeadLetterCopy | None:
        """Put the copy on the dead-letter topic, trying until it is there or a stop comes.

        Whatever refuses it (Postgres down, the broker away or refusing, a table not migrated
        yet) is waited out with backoff and logged on every try: dropping the message would
        lose it, and letting the task fail would stall its partition with no word said. A stop
        leaves the message unfinished, for whoever owns the partition next to read again.
        """
        failures = 0
        while True:
            try:
                copy = await self._copy(message, coords, error, attempts)
                await self._publisher.publish_raw(
                    dead_letter_topic(message.topic), message.key, copy.encode()
                )
                return copy
            except Exception as exc:
                failures += 1
                self._metrics.messages.labels(message.topic, "dead_letter_retry").inc()
                log.warning(
                    "could not dead-letter a message, will retry",
                    extra={**coords.model_dump(), "error": repr(exc), "attempt": failures},
                )
            if not await self.pause(failures):
                return None

    async def _copy(
        self, message: ConsumerRecord, coords: Coordinates, error: str, attempts: int
    ) -> DeadLetterCopy:
        """The dead letter for ``message``; a large original is kept by the hook first (without
        one, as in tests of the loop alone, there is nowhere else to keep it: it goes inline)."""
        value: bytes = message.value or b""
        kept: str | None = None
        if self._on_dead_letter is not None and len(value) > INLINE_VALUE_BYTES:
            kept = await self._on_dead_letter.keep_value(value, coords)
        return DeadLetterCopy(
            error=error,
            attempts=attempts,
            failed_at=datetime.now(UTC),
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key.decode(errors="replace") if message.key else None,
            value_base64=None if kept else base64.b64encode(value).decode(),
            value_sha256=kept,
        )

    async def pause(self, attempt: int) -> bool:
        """Sleep a capped, jittered backoff; return False if asked to stop meanwhile."""
        ceiling = min(
            self._tuning.backoff_max_seconds,
            self._tuning.backoff_initial_seconds * 2 ** min(attempt, 30),
        )
        return not await wait_for_event(self._stopping, random.uniform(0, ceiling))
