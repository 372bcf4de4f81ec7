"""A consumer group on the embedded broker (Tansu) survives its leader stopping in the middle of
a rebalance, and a loop stuck in a group that cannot form keeps joining again and says so.

This is the two-poster chaos stall, reduced: Tansu 0.6 keeps a leader that sends LeaveGroup
while the group is forming as the group's leader, so no member is ever assigned again. With
``leave_group_on_stop`` off (what the dev stack sets for the embedded broker) the member is
dropped by its session timeout instead, leadership included (``shared/kafka/group_exit.py``).
The wedged group, made on purpose by members that do leave, is what the stuck-rebalance watch
(``shared/kafka/rebalance_watch.py``) is tested against.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from shared.kafka.consumer import ConsumerLoop
from shared.kafka.envelope import Coordinates, Envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics
from shared.service.metrics import ServiceMetrics
from shared.settings import ConsumerTuning, KafkaTuning
from tests.conftest import TEST_PARTITIONS
from tests.support import eventually

pytestmark = pytest.mark.integration

GROUP = "leader-leaves"
# A heartbeat as slow as the services' (1 s), so the leader has not noticed the new member yet
# when it is stopped; the session as short as the tests' so that dropping it takes seconds.
TUNING = KafkaTuning(
    partitions=TEST_PARTITIONS,
    session_timeout_ms=3_000,
    heartbeat_interval_ms=1_000,
    max_poll_interval_ms=10_000,
    leave_group_on_stop=False,
)


async def ignore(envelope: Envelope, coords: Coordinates) -> None:
    return None


def loop_for(
    bootstrap: str,
    topics: Topics,
    publisher: Publisher,
    metrics: ServiceMetrics,
    tuning: ConsumerTuning | None = None,
) -> ConsumerLoop:
    return ConsumerLoop(
        bootstrap=bootstrap,
        group_id=topics.prefix + GROUP,
        topics=[topics.coupa_invoices],
        handler=ignore,
        publisher=publisher,
        metrics=metrics,
        kafka=TUNING,
        tuning=tuning or ConsumerTuning(),
    )


def member(bootstrap: str, topics: Topics) -> AIOKafkaConsumer:
    """A plain member of the same group, whose join the test can watch."""
    return AIOKafkaConsumer(
        topics.coupa_invoices,
        bootstrap_servers=bootstrap,
        group_id=topics.prefix + GROUP,
        enable_auto_commit=False,
        session_timeout_ms=TUNING.session_timeout_ms,
        heartbeat_interval_ms=TUNING.heartbeat_interval_ms,
    )


async def until_joined(consumer: AIOKafkaConsumer, within: float = 15) -> None:
    """Return as soon as the broker gave it a member id (its JoinGroup reached the group), so
    that the leader is stopped well before its next heartbeat would tell it of the rebalance."""
    step = 0.005  # far below the 1 s heartbeat: the race it leaves is about 0.5 %
    for _ in range(int(within / step)):
        coordinator = consumer._coordinator
        if coordinator is not None and coordinator.member_id:
            return
        await asyncio.sleep(step)
    raise AssertionError(f"no JoinGroup within {within:.0f}s")


async def test_a_leader_stopped_mid_rebalance_leaves_a_group_that_forms_again(
    kafka_bootstrap: str, topics: Topics, publisher: Publisher
) -> None:
    leader = loop_for(kafka_bootstrap, topics, publisher, ServiceMetrics("test"))
    # A first member that leaves again takes the group past generation 0, below which aiokafka
    # never sends LeaveGroup: without that the test would pass even with leaving switched on.
    first = member(kafka_bootstrap, topics)
    await first.start()
    running = asyncio.create_task(leader.run())

    async def leader_joined() -> bool:
        return leader._consumer is not None

    await eventually(leader_joined, what="the loop's consumer joined the group")
    await first.stop()

    async def leader_owns_everything() -> bool:
        assert leader._consumer is not None
        return len(leader._consumer.assignment()) == TEST_PARTITIONS

    await eventually(leader_owns_everything, what="the loop leads the group alone")

    newcomer = member(kafka_bootstrap, topics)
    joining = asyncio.create_task(newcomer.start())
    try:
        # The group is now forming, led by the loop, which has not heard of it yet: stop it.
        await until_joined(newcomer)
        leader.stop()
        await asyncio.wait_for(running, 15)

        await asyncio.wait_for(asyncio.shield(joining), 20)

        # It may first share the group with the stopped member until its session times out;
        # in the stall it would never be assigned at all.
        async def newcomer_owns_everything() -> bool:
            return len(newcomer.assignment()) == TEST_PARTITIONS

        await eventually(newcomer_owns_everything, what="the newcomer owns every partition")
    finally:
        joining.cancel()
        await newcomer.stop()


async def wedge(bootstrap: str, topics: Topics) -> tuple[AIOKafkaConsumer, asyncio.Task[None]]:
    """Wedge the group the way the chaos run did: its leader leaves (plain aiokafka members do)
    just after a newcomer joined. Returns the newcomer and its start, which never ends."""
    first, leader = member(bootstrap, topics), member(bootstrap, topics)
    await first.start()
    await leader.start()
    await first.stop()  # past generation 0, so `leader` will send LeaveGroup

    async def leader_owns_everything() -> bool:
        return len(leader.assignment()) == TEST_PARTITIONS

    await eventually(leader_owns_everything, what="one member leading the group alone")
    newcomer = member(bootstrap, topics)
    joining = asyncio.create_task(newcomer.start())
    await until_joined(newcomer)
    await leader.stop()  # LeaveGroup from the leader of a group that is forming
    return newcomer, joining


async def test_a_loop_in_a_group_that_never_forms_joins_again_and_counts_it(
    kafka_bootstrap: str, topics: Topics, publisher: Publisher
) -> None:
    newcomer, joining = await wedge(kafka_bootstrap, topics)
    metrics = ServiceMetrics("test")
    # Well above a join that works here (the session is 3 s), far below the default.
    stuck_after = ConsumerTuning(stuck_rebalance_seconds=8)
    loop = loop_for(kafka_bootstrap, topics, publisher, metrics, stuck_after)
    running = asyncio.create_task(loop.run())
    try:

        async def joined_again_twice() -> bool:
            stuck = metrics.registry.get_sample_value(
                "connector_consumer_stuck_rebalances_total", {"group": topics.prefix + GROUP}
            )
            return (stuck or 0) >= 2

        # Each time: 8 s stuck, then a new member; counting twice shows it keeps watching.
        await eventually(joined_again_twice, within=60, what="two restarts of a stuck join")
        assert not joining.done(), "the group formed: nothing was stuck"
        loop.stop()
        await asyncio.wait_for(running, 30)
    finally:
        running.cancel()
        joining.cancel()
        await newcomer.stop()
