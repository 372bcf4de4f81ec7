"""Small helpers the test tiers share: waiting for a condition, reading Kafka state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from shared.api_calls import COLLECTORS
from shared.kafka.envelope import Envelope
from shared.service.app import ADMIN_URL


async def scrape_metrics(client: TestClient[Any, Any]) -> str:
    """A service's metrics from its admin port (``serve_admin``), never the port it serves on."""
    assert client.app is not None
    async with client.session.get(client.app[ADMIN_URL] / "metrics") as answer:
        answer.raise_for_status()
        return await answer.text()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 30.0, what: str = "condition"
) -> None:
    """Poll ``check`` until it holds; fail with ``what`` when ``within`` seconds pass first."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {within:.0f}s")


async def committed_offsets(bootstrap: str, group: str, topic: str) -> int:
    """The sum over partitions of ``group``'s committed offsets on ``topic``.

    Read by a consumer with manual assignment, which fetches offsets without joining the group
    (joining would rebalance the consumer under test).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        return sum([await consumer.committed(tp) or 0 for tp in partitions])
    finally:
        await consumer.stop()


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, within: float = 15.0
) -> list[bytes]:
    """Read ``expect`` messages from the start of every partition of ``topic``, without a group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assignment = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        values: list[bytes] = []
        deadline = time.monotonic() + within
        while len(values) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            values += [m.value for messages in batch.values() for m in messages if m.value]
        return values
    finally:
        await consumer.stop()


def invoice_event(
    connection: str, coupa_id: int, updated_at: str = "2026-11-01T10:00:00Z"
) -> Envelope:
    """An ``InvoiceApproved`` envelope with a minimal Coupa-shaped payload."""
    return Envelope(
        schema="InvoiceApproved",
        connection=connection,
        key=f"{connection}:invoice:{coupa_id}",
        source="webhook",
        payload={
            "invoice": {
                "id": coupa_id,
                "invoice-number": f"INV-{coupa_id}",
                "updated-at": updated_at,
            },
            "purchase_orders": [],
        },
    )


def api_call_registry() -> CollectorRegistry:
    """A registry of the API-call collectors alone (``shared.api_calls.COLLECTORS``)."""
    registry = CollectorRegistry()
    for collector in COLLECTORS:
        registry.register(collector)
    return registry


def api_call_count(
    registry: CollectorRegistry, connection: str, endpoint: str, outcome: str, *, api: str
) -> float:
    """How many calls of ``api`` to ``endpoint`` ended in ``outcome`` (0 before the first)."""
    labels = {"api": api, "connection": connection, "endpoint": endpoint, "outcome": outcome}
    return registry.get_sample_value("connector_api_call_seconds_count", labels) or 0.0
