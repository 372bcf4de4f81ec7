"""Publishing envelopes to Kafka, acknowledged by all in-sync replicas before we move on."""

from __future__ import annotations

from typing import Protocol

from aiokafka import AIOKafkaProducer

from shared.kafka.envelope import Envelope
from shared.settings import KafkaTuning


class Publishes(Protocol):
    """Where a service sends messages: the Kafka :class:`Publisher`, a list in unit tests."""

    async def publish(self, topic: str, envelope: Envelope) -> None: ...


class Publisher:
    """A started producer; ``publish`` returns only once the broker holds the message."""

    def __init__(self, bootstrap: str, tuning: KafkaTuning) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=tuning.idempotent_producer,
            linger_ms=2,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, topic: str, envelope: Envelope) -> None:
        await self.publish_raw(topic, envelope.key.encode(), envelope.encode())

    async def publish_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        await self._producer.send_and_wait(topic, value, key=key)

    async def ping(self) -> None:
        """Reach the broker (readiness): raises if no broker answers a metadata request."""
        await self._producer.client.fetch_all_metadata()
