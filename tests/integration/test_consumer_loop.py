"""The consumer loop against the real broker: commit after the handler, resume, dead letters."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import orjson
import pytest

from shared.kafka.consumer import ConsumerLoop, DeadLetterHook, MessageHandler, TransientError
from shared.kafka.delivery import ERROR_CHARS, INLINE_VALUE_BYTES
from shared.kafka.envelope import Coordinates, Envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics, dead_letter_topic
from shared.logs import register_secret
from shared.service.metrics import ServiceMetrics
from shared.settings import ConsumerTuning, KafkaTuning
from tests.support import committed_offsets, eventually, invoice_event, read_topic

pytestmark = pytest.mark.integration

GROUP = "loop-under-test"


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


class MemoryHook:
    """A dead-letter hook keeping large originals in memory; ``down`` makes it refuse to keep
    them, as the service's does while Postgres is down."""

    def __init__(self) -> None:
        self.told: list[tuple[str | None, str]] = []
        self.kept: dict[str, bytes] = {}
        self.down = False
        self.refused = 0

    async def keep_value(self, value: bytes, origin: Coordinates) -> str:
        if self.down:
            self.refused += 1
            raise ConnectionRefusedError("Postgres is down")
        digest = hashlib.sha256(value).hexdigest()
        self.kept[digest] = value
        return digest

    async def dead_lettered(self, record_key: str | None, error: str) -> None:
        self.told.append((record_key, error))


async def dead_letters(
    bootstrap: str, topics: Topics, expect: int, within: float = 15.0
) -> list[dict[str, Any]]:
    topic = dead_letter_topic(topics.coupa_invoices)
    values = await read_topic(bootstrap, topic, expect=expect, within=within)
    return [orjson.loads(value) for value in values]


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
    # Message 0 is done, message 1 is in the handler: the commit may reach message 1 (the
    # lowest unfinished), never past it.
    assert seen == [0]
    assert await committed(kafka_bootstrap, topics) <= 1

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

    hook = MemoryHook()
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
    told = hook.told
    assert told == [
        ("acme:invoice:same", told[0][1]),
        ("acme:invoice:same", "ValueError: cannot map this invoice"),
    ]
    assert told[0][1].startswith("undecodable message")

    dead = await dead_letters(kafka_bootstrap, topics, expect=2)
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


def large_invoice(coupa_id: int, chars: int) -> Envelope:
    """An invoice event on the one test key, ``chars`` characters longer than the usual."""
    event = invoice_event("acme", coupa_id)
    invoice = {**event.payload["invoice"], "comments": "c" * chars}
    payload = {**event.payload, "invoice": invoice}
    return event.model_copy(update={"key": "acme:invoice:same", "payload": payload})


async def test_a_large_poison_message_waits_uncommitted_until_its_dead_letter_is_kept(
    kafka_bootstrap, topics, publisher, kafka_tuning, consumer_tuning
):
    """A failing message of 900 KB: copied inline (base64) its dead letter would be over the
    broker's limit, so the original is kept by the hook and the copy carries its digest. While
    the hook cannot keep it (Postgres down) the message waits, uncommitted, and the loop goes on
    with other keys; nothing behind it in its own lane overtakes it."""
    big = large_invoice(1, 900_000)
    value = big.encode()
    assert len(value) < KafkaTuning().max_message_bytes < len(value) * 4 / 3
    await publisher.publish(topics.coupa_invoices, big)
    await publish_invoices(publisher, topics, range(2, 4))
    await publisher.publish(topics.coupa_invoices, invoice_event("acme", 9))
    done: list[int] = []

    async def poison_on_one(envelope: Envelope, coords: Coordinates) -> None:
        coupa_id = envelope.payload["invoice"]["id"]
        if coupa_id == 1:
            raise ValueError("cannot map this invoice")
        done.append(coupa_id)

    hook = MemoryHook()
    hook.down = True
    loop = make_loop(
        kafka_bootstrap, topics, poison_on_one, publisher, kafka_tuning, consumer_tuning, hook
    )
    task = asyncio.create_task(loop.run())

    async def refused_while_others_go_on() -> bool:
        return hook.refused >= 3 and done == [9]

    await eventually(refused_while_others_go_on, what="other keys handled while Postgres is down")
    # Offset 0 of its partition is still being set aside: at most message 9's own partition
    # (if it is another) has committed.
    assert await committed(kafka_bootstrap, topics) <= 1
    assert await dead_letters(kafka_bootstrap, topics, expect=1, within=1) == []

    hook.down = False

    async def all_committed() -> bool:
        return await committed(kafka_bootstrap, topics) == 4

    await eventually(all_committed, what="the dead letter kept and everything committed")
    loop.stop()
    await asyncio.wait_for(task, 30)
    assert done == [9, 2, 3]
    (copy,) = await dead_letters(kafka_bootstrap, topics, expect=1)
    assert "value_base64" not in copy
    assert hook.kept[copy["value_sha256"]] == value
    assert len(orjson.dumps(copy)) < INLINE_VALUE_BYTES
    assert hook.told == [("acme:invoice:same", "ValueError: cannot map this invoice")]


async def test_dead_letter_errors_are_redacted_and_bounded(
    kafka_bootstrap, topics, publisher, kafka_tuning, consumer_tuning
):
    """An exception text quoting a secret and a megabyte-long error page: the dead letter and
    the record's reason get it masked and cut, never whole."""
    secret = "dead-letter-secret-7f3a9c2e1b"
    register_secret(secret)
    await publish_invoices(publisher, topics, range(1))

    async def leaks(envelope: Envelope, coords: Coordinates) -> None:
        raise ValueError(f"Deltek refused client_secret {secret}: " + "<p>error</p>" * 10_000)

    hook = MemoryHook()
    loop = make_loop(kafka_bootstrap, topics, leaks, publisher, kafka_tuning, consumer_tuning, hook)
    task = asyncio.create_task(loop.run())

    async def told() -> bool:
        return bool(hook.told)

    await eventually(told, what="the message dead-lettered")
    loop.stop()
    await asyncio.wait_for(task, 30)
    (copy,) = await dead_letters(kafka_bootstrap, topics, expect=1)
    error = copy["error"]
    assert secret not in error
    assert error.startswith("ValueError: Deltek refused client_secret ***: <p>error</p>")
    assert len(error) <= ERROR_CHARS
    assert hook.told == [("acme:invoice:same", error)]
