"""Publishing envelopes to Kafka, acknowledged by all in-sync replicas before we move on."""

from __future__ import annotations

from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError

from shared.kafka.envelope import Envelope
from shared.settings import KafkaTuning


class MessageTooLargeError(Exception):
    """The producer or the broker refused a message for its size: it will never be taken, so
    unlike a ``KafkaError`` it must not be retried as "not now"; the caller sets it aside."""

    def __init__(self, topic: str, size: int, limit: int, cause: Exception) -> None:
        super().__init__(
            f"a message of {size} bytes for {topic} is larger than Kafka takes "
            f"(the producer's limit is {limit} bytes; the broker's may be lower): {cause}"
        )
        self.topic = topic
        self.size = size


class Publishes(Protocol):
    """Where a service sends messages: the Kafka :class:`Publisher`, a list in unit tests."""

    async def publish(self, topic: str, envelope: Envelope) -> None: ...


class Publisher:
    """A started producer; ``publish`` returns only once the broker holds the message."""

    def __init__(self, bootstrap: str, tuning: KafkaTuning) -> None:
        self._max_message_bytes = tuning.max_message_bytes
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=tuning.idempotent_producer,
            linger_ms=2,
            max_request_size=tuning.max_message_bytes,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, topic: str, envelope: Envelope) -> None:
        await self.publish_raw(topic, envelope.key.encode(), envelope.encode())

    async def publish_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Send one message and wait for the broker; raises :class:`MessageTooLargeError` for
        one too large, whether the producer (before sending) or the broker said so."""
        try:
            await self._producer.send_and_wait(topic, value, key=key)
        except (MessageSizeTooLargeError, RecordListTooLargeError) as exc:
            size = len(value) + len(key or b"")
            raise MessageTooLargeError(topic, size, self._max_message_bytes, exc) from exc

    async def ping(self) -> None:
        """Reach the broker (readiness): raises if no broker answers a metadata request."""
        await self._producer.client.fetch_all_metadata()
