"""The consumer loop against the real broker: commit after the handler, resume, dead letters."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from shared.kafka.consumer import ConsumerLoop, DeadLetterHook, MessageHandler, TransientError
from shared.kafka.envelope import Coordinates, Envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics, dead_letter_topic
from shared.service.metrics import ServiceMetrics
from shared.settings import ConsumerTuning, KafkaTuning
from tests.support import committed_offsets, eventually, invoice_event, read_topic

pytestmark = pytest.mark.integration

GROUP = "loop-under-test"


@pytest.fixture
async def publisher(kafka_bootstrap: str, kafka_tuning: KafkaTuning):
    pub = Publisher(kafka_bootstrap, kafka_tuning)
    await pub.start()
    yield pub
    await pub.stop()


def make_loop(
    bootstrap: str,
    topics: Topics,
    handler: MessageHandler,
    publisher: Publisher,
    kafka: KafkaTuning,
    tuning: ConsumerTuning,
    on_dead_letter: DeadLetterHook | None = None,
) -> ConsumerLoop:
    return ConsumerLoop(
        bootstrap=bootstrap,
        group_id=topics.prefix + GROUP,
        topics=[topics.coupa_invoices],
        handler=handler,
        publisher=publisher,
        metrics=ServiceMetrics("test"),
        kafka=kafka,
        tuning=tuning,
        on_dead_letter=on_dead_letter,
    )


async def publish_invoices(publisher: Publisher, topics: Topics, ids: range) -> None:
    # One connection and one key per test run keeps every message on one partition, in order.
    for coupa_id in ids:
        event = invoice_event("acme", coupa_id).model_copy(update={"key": "acme:invoice:same"})
        await publisher.publish(topics.coupa_invoices, event)


async def committed(bootstrap: str, topics: Topics) -> int:
    return await committed_offsets(bootstrap, topics.prefix + GROUP, topics.coupa_invoices)


async def test_commits_only_after_handler_finished_and_resumes_after_restart(
    kafka_bootstrap, topics, publisher, kafka_tuning, consumer_tuning
):
    await publish_invoices(publisher, topics, range(3))
    gate = asyncio.Event()
    entered = asyncio.Event()
    seen: list[int] = []

    async def slow_handler(envelope: Envelope, coords: Coordinates) -> None:
        if envelope.payload["invoice"]["id"] == 1:
            entered.set()
            await gate.wait()
        seen.append(envelope.payload["invoice"]["id"])

    loop = make_loop(
        kafka_bootstrap, topics, slow_handler, publisher, kafka_tuning, consumer_tuning
    )
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(entered.wait(), 30)
    # Message 0 is done, message 1 is in the handler: nothing may be committed yet.
    assert seen == [0]
    assert await committed(kafka_bootstrap, topics) == 0

    gate.set()

    async def all_committed() -> bool:
        return await committed(kafka_bootstrap, topics) == 3

    await eventually(all_committed, what="commit of offset 3")
    loop.stop()
    await asyncio.wait_for(task, 30)

    # After a restart the group resumes from its commit: only the new messages arrive.
    await publish_invoices(publisher, topics, range(3, 5))
    resumed: list[int] = []

    async def record(envelope: Envelope, coords: Coordinates) -> None:
        resumed.append(envelope.payload["invoice"]["id"])

    second = make_loop(kafka_bootstrap, topics, record, publisher, kafka_tuning, consumer_tuning)
    task = asyncio.create_task(second.run())

    async def both_new_seen() -> bool:
        return len(resumed) >= 2

    await eventually(both_new_seen, what="delivery after restart")
    second.stop()
    await asyncio.wait_for(task, 30)
    assert resumed == [3, 4]


async def test_crash_mid_handler_redelivers_the_unfinished_message(
    kafka_bootstrap, topics, publisher, kafka_tuning, consumer_tuning
):
    await publish_invoices(publisher, topics, range(3))
    entered = asyncio.Event()

    async def dies_on_two(envelope: Envelope, coords: Coordinates) -> None:
        if envelope.payload["invoice"]["id"] == 2:
            entered.set()
            await asyncio.Event().wait()  # hangs until the task is cancelled: a crash

    loop = make_loop(kafka_bootstrap, topics, dies_on_two, publisher, kafka_tuning, consumer_tuning)
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(entered.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Messages 0 and 1 may have been committed while 2 was in the handler; 2 never was.
    done_before = await committed(kafka_bootstrap, topics)
    assert done_before <= 2

    again: list[int] = []

    async def record(envelope: Envelope, coords: Coordinates) -> None:
        again.append(envelope.payload["invoice"]["id"])

    second = make_loop(kafka_bootstrap, topics, record, publisher, kafka_tuning, consumer_tuning)
    task = asyncio.create_task(second.run())

    async def redelivered() -> bool:
        return len(again) >= 3

    await eventually(redelivered, what="redelivery after crash")
    second.stop()
    await asyncio.wait_for(task, 30)
    # Everything from the lowest unfinished message comes again: at-least-once, none lost.
    assert again == list(range(done_before, 3))


async def test_undecodable_and_poison_messages_go_to_the_dead_letter_topic(
    kafka_bootstrap, topics, publisher, kafka_tuning, consumer_tuning
):
    await publisher.publish_raw(topics.coupa_invoices, b"acme:invoice:same", b"{not json")
    await publish_invoices(publisher, topics, range(3))
    attempts: dict[int, int] = {}
    done: list[int] = []

    async def poison_on_one(envelope: Envelope, coords: Coordinates) -> None:
        coupa_id = envelope.payload["invoice"]["id"]
        attempts[coupa_id] = attempts.get(coupa_id, 0) + 1
        if coupa_id == 1:
            raise ValueError("cannot map this invoice")
        done.append(coupa_id)

    told: list[tuple[str | None, str]] = []

    async def hook(key: str | None, error: str) -> None:
        told.append((key, error))

    loop = make_loop(
        kafka_bootstrap, topics, poison_on_one, publisher, kafka_tuning, consumer_tuning, hook
    )
    task = asyncio.create_task(loop.run())

    async def passed_the_poison() -> bool:
        return done == [0, 2]

    await eventually(passed_the_poison, what="consumer moving past the poison message")
    loop.stop()
    await asyncio.wait_for(task, 30)
    assert attempts[1] == consumer_tuning.max_attempts
    assert told == [
        ("acme:invoice:same", told[0][1]),
        ("acme:invoice:same", "ValueError: cannot map this invoice"),
    ]
    assert told[0][1].startswith("undecodable message")

    dead = [
        orjson.loads(v)
        for v in await read_topic(
            kafka_bootstrap, dead_letter_topic(topics.coupa_invoices), expect=2
        )
    ]
    assert len(dead) == 2
    undecodable, poison = sorted(dead, key=lambda d: d["offset"])
    assert undecodable["error"].startswith("undecodable message")
    assert undecodable["topic"] == topics.coupa_invoices
    assert (undecodable["offset"], poison["offset"]) == (0, 2)
    assert poison["error"] == "ValueError: cannot map this invoice"
    assert poison["attempts"] == consumer_tuning.max_attempts


async def test_transient_failures_are_retried_not_dead_lettered(
    kafka_bootstrap, topics, publisher, kafka_tuning, consumer_tuning
):
    await publish_invoices(publisher, topics, range(1))
    calls = 0
    limit = consumer_tuning.max_attempts * 2  # well past the dead-letter threshold

    async def flaky(envelope: Envelope, coords: Coordinates) -> None:
        nonlocal calls
        calls += 1
        if calls < limit:
            raise TransientError("Deltek answered 503")

    loop = make_loop(kafka_bootstrap, topics, flaky, publisher, kafka_tuning, consumer_tuning)
    task = asyncio.create_task(loop.run())

    async def one_committed() -> bool:
        return await committed(kafka_bootstrap, topics) == 1

    await eventually(one_committed, what="commit after transient failures")
    loop.stop()
    await asyncio.wait_for(task, 30)
    assert calls == limit
    assert (
        await read_topic(
            kafka_bootstrap, dead_letter_topic(topics.coupa_invoices), expect=1, within=2
        )
        == []
    )
