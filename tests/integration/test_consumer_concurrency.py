"""The consumer loop with many messages in flight: keys overlap, one key never does, commits
stay behind the lowest unfinished message, and a stop drains what is in hand."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from aiokafka.partitioner import DefaultPartitioner

from shared.kafka.consumer import ConsumerLoop
from shared.kafka.envelope import Coordinates, Envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics
from shared.service.metrics import ServiceMetrics
from shared.settings import ConsumerTuning, KafkaTuning
from tests.conftest import TEST_PARTITIONS
from tests.support import committed_offsets, eventually, invoice_event

pytestmark = pytest.mark.integration

GROUP = "concurrent-loop"


class Gate:
    """A handler that notes who is inside at once and lets each through only when told."""

    def __init__(self) -> None:
        self.inside: Counter[str] = Counter()
        self.most_inside = 0
        self.most_per_key = 0
        self.done: list[tuple[str, int]] = []
        self.open = asyncio.Event()
        self.hold: set[int] = set()
        self.released = asyncio.Event()

    async def __call__(self, envelope: Envelope, coords: Coordinates) -> None:
        number = envelope.payload["invoice"]["id"]
        self.inside[envelope.key] += 1
        self.most_inside = max(self.most_inside, sum(self.inside.values()))
        self.most_per_key = max(self.most_per_key, self.inside[envelope.key])
        try:
            await self.open.wait()
            if number in self.hold:
                await self.released.wait()
            await asyncio.sleep(0.01)  # lets another message of the same key try to overtake
        finally:
            self.inside[envelope.key] -= 1
        self.done.append((envelope.key, number))


def loop_for(
    bootstrap: str, topics: Topics, gate: Gate, publisher: Publisher, kafka: KafkaTuning, **tuning
) -> ConsumerLoop:
    return ConsumerLoop(
        bootstrap=bootstrap,
        group_id=topics.prefix + GROUP,
        topics=[topics.coupa_invoices],
        handler=gate,
        publisher=publisher,
        metrics=ServiceMetrics("test"),
        kafka=kafka,
        tuning=ConsumerTuning(backoff_initial_seconds=0.01, backoff_max_seconds=0.05, **tuning),
    )


async def publish(publisher: Publisher, topics: Topics, plan: list[tuple[str, int]]) -> None:
    for key, number in plan:
        event = invoice_event("acme", number).model_copy(update={"key": key})
        await publisher.publish(topics.coupa_invoices, event)


def keys_on_one_partition(count: int) -> list[str]:
    """Distinct record keys the default partitioner puts on the same partition."""
    partitioner = DefaultPartitioner()
    partitions = list(range(TEST_PARTITIONS))
    by_partition: dict[int, list[str]] = {}
    n = 0
    while True:
        key = f"acme:invoice:k{n}"
        n += 1
        same = by_partition.setdefault(partitioner(key.encode(), partitions, partitions), [])
        same.append(key)
        if len(same) == count:
            return same


async def committed(bootstrap: str, topics: Topics) -> int:
    return await committed_offsets(bootstrap, topics.prefix + GROUP, topics.coupa_invoices)


async def test_many_keys_are_handled_at_once_and_one_key_in_order(
    kafka_bootstrap, topics, publisher, kafka_tuning
):
    plan = [(f"acme:invoice:{n % 8}", n) for n in range(40)]  # 8 keys, 5 events each
    await publish(publisher, topics, plan)
    gate = Gate()
    loop = loop_for(kafka_bootstrap, topics, gate, publisher, kafka_tuning, max_in_flight=64)
    task = asyncio.create_task(loop.run())

    async def every_key_inside() -> bool:
        return gate.most_inside >= 8

    await eventually(every_key_inside, what="8 keys in the handler at once")
    gate.open.set()

    async def all_done() -> bool:
        return len(gate.done) == 40

    await eventually(all_done, what="every message handled")
    loop.stop()
    await asyncio.wait_for(task, 30)
    assert gate.most_per_key == 1, "two events of one record overlapped"
    for key in {key for key, _ in plan}:
        assert [n for k, n in gate.done if k == key] == [n for k, n in plan if k == key]
    assert await committed(kafka_bootstrap, topics) == 40


async def test_in_flight_messages_are_bounded(kafka_bootstrap, topics, publisher, kafka_tuning):
    await publish(publisher, topics, [(f"acme:invoice:{n}", n) for n in range(10)])
    gate = Gate()
    loop = loop_for(kafka_bootstrap, topics, gate, publisher, kafka_tuning, max_in_flight=3)
    task = asyncio.create_task(loop.run())

    async def three_inside() -> bool:
        return gate.most_inside >= 3

    await eventually(three_inside, what="3 messages in the handler")
    await asyncio.sleep(0.5)  # room for a fourth to (wrongly) start
    assert gate.most_inside == 3
    gate.open.set()

    async def all_done() -> bool:
        return len(gate.done) == 10

    await eventually(all_done, what="every message handled")
    loop.stop()
    await asyncio.wait_for(task, 30)
    assert gate.most_inside == 3


async def test_commit_waits_for_the_lowest_unfinished_message(
    kafka_bootstrap, topics, publisher, kafka_tuning
):
    first, second = keys_on_one_partition(2)
    await publish(publisher, topics, [(first, 0), (second, 1), (second, 2)])
    gate = Gate()
    gate.hold = {0}
    gate.open.set()
    loop = loop_for(kafka_bootstrap, topics, gate, publisher, kafka_tuning)
    task = asyncio.create_task(loop.run())

    async def later_ones_done() -> bool:
        return [n for _, n in gate.done] == [1, 2]

    await eventually(later_ones_done, what="the two later messages handled past the held one")
    await asyncio.sleep(0.5)  # several commit rounds
    assert await committed(kafka_bootstrap, topics) == 0

    gate.released.set()

    async def all_committed() -> bool:
        return await committed(kafka_bootstrap, topics) == 3

    await eventually(all_committed, what="commit past the released message")
    loop.stop()
    await asyncio.wait_for(task, 30)


async def test_a_stop_drains_the_messages_in_hand_and_commits_them(
    kafka_bootstrap, topics, publisher, kafka_tuning
):
    await publish(publisher, topics, [(f"acme:invoice:{n}", n) for n in range(6)])
    gate = Gate()
    loop = loop_for(kafka_bootstrap, topics, gate, publisher, kafka_tuning)
    task = asyncio.create_task(loop.run())

    async def all_inside() -> bool:
        return gate.most_inside >= 6

    await eventually(all_inside, what="6 messages in the handler")
    loop.stop()
    await asyncio.sleep(0.2)
    assert not task.done(), "the loop left with work in hand"
    gate.open.set()
    await asyncio.wait_for(task, 30)
    assert len(gate.done) == 6
    assert await committed(kafka_bootstrap, topics) == 6
