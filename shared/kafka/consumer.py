"""The consumer loop: many messages in flight, each record's events in order, commits only
behind finished work.

At-least-once into idempotent handlers, with concurrency: up to ``max_in_flight`` messages are
handled at once across the assigned partitions, so one process keeps many slow API
conversations going. Two messages with the same record key (same partition) never overlap: the
later one starts when the earlier finished. Each partition is committed up to its lowest
unfinished message (``progress.PartitionProgress``), so a crash re-delivers only work that was
not done. A rebalance or a stop first drains what is in flight for the partitions being given up
(waiting up to ``drain_seconds``, then cancelling what is left, which the next owner re-reads),
then commits. A rebalance that never ends (``rebalance_watch``) makes the loop close its
consumer and join again. How one message is handled, retried or dead-lettered is
``delivery.Delivery``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from shared.kafka.delivery import DeadLetterHook, Delivery, MessageHandler, TransientError
from shared.kafka.group_exit import leave_silently
from shared.kafka.producer import Publisher
from shared.kafka.progress import PartitionProgress
from shared.kafka.rebalance_watch import RebalanceWatch
from shared.service.metrics import ServiceMetrics
from shared.settings import ConsumerTuning, KafkaTuning

__all__ = ["ConsumerLoop", "DeadLetterHook", "MessageHandler", "TransientError"]

log = logging.getLogger(__name__)

_IDLE_FETCH_MS = 500
# How often a consumer still joining the group is checked for a stuck rebalance.
_JOIN_CHECK_SECONDS = 1.0
# While work is in flight, fetch briefly so finished work is committed soon after it finishes.
_BUSY_FETCH_MS = 50
# Messages of one key in one partition; a message without a key queues behind its partition's.
_Lane = tuple[TopicPartition, bytes | None]


class _DrainOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Finish (or give back) the work of partitions before the group takes them away, and tell
    the watch when a rebalance starts and ends."""

    def __init__(self, loop: ConsumerLoop, watch: RebalanceWatch) -> None:
        self._loop = loop
        self._watch = watch

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self._watch.started()
        await self._loop.drain(set(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._watch.ended()


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
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._topics = topics
        self._metrics = metrics
        self._kafka = kafka
        self._tuning = tuning
        self._stopping = asyncio.Event()
        self._deliver = Delivery(
            handler=handler,
            publisher=publisher,
            metrics=metrics,
            tuning=tuning,
            stopping=self._stopping,
            on_dead_letter=on_dead_letter,
        )
        self._rebalances = RebalanceWatch(
            group_id, tuning.stuck_rebalance_seconds, metrics.consumer_stuck_rebalances
        )
        self._consumer: AIOKafkaConsumer | None = None
        self._progress: dict[TopicPartition, PartitionProgress] = {}
        self._in_flight: dict[asyncio.Task[bool], TopicPartition] = {}
        self._tails: dict[_Lane, asyncio.Task[bool]] = {}

    def stop(self) -> None:
        """Ask the loop to finish the messages in hand, commit, and go out of the group."""
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            consumer = await self._start_consumer()
            if consumer is None:
                return
            self._consumer = consumer
            try:
                await self._consume(consumer)
            finally:
                for task in list(self._in_flight):
                    task.cancel()
                await self._close(consumer)
                self._consumer = None

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        """Fetch, commit and report until a stop (then drain) or a stuck rebalance (whose
        revoke already drained everything)."""
        while not self._stopping.is_set():
            if self._rebalances.stuck():
                return
            await self._fetch(consumer)
            await self._commit(consumer)
            await self._report_lag(consumer)
        await self.drain(set(self._progress))

    async def _start_consumer(self) -> AIOKafkaConsumer | None:
        """Join the group, waiting out a broker that is not up yet and a join that is stuck."""
        attempt = 0
        while not self._stopping.is_set():
            self._rebalances.ended()  # a new member: whatever the last one waited for is over
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=self._group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=self._kafka.session_timeout_ms,
                heartbeat_interval_ms=self._kafka.heartbeat_interval_ms,
                max_poll_interval_ms=self._kafka.max_poll_interval_ms,
                # aiokafka's default is the session timeout, shorter than a drain on revoke.
                rebalance_timeout_ms=self._kafka.max_poll_interval_ms,
            )
            consumer.subscribe(self._topics, listener=_DrainOnRevoke(self, self._rebalances))
            try:
                joined = await self._join(consumer)
            except KafkaError as exc:
                await self._close(consumer)
                attempt += 1
                log.warning("broker not reachable, retrying", extra={"error": str(exc)})
                await self._deliver.pause(attempt)
                continue
            if not joined:  # stopped, or stuck: the loop's condition tells which
                await self._close(consumer)
                continue
            if not self._kafka.leave_group_on_stop:
                leave_silently(consumer)  # also aiokafka's own leave after a long idle spell
            return consumer
        return None

    async def _close(self, consumer: AIOKafkaConsumer) -> None:
        """Stop ``consumer``, leaving the group unless ``kafka.leave_group_on_stop`` is off."""
        if not self._kafka.leave_group_on_stop:
            leave_silently(consumer)
        await consumer.stop()

    async def _join(self, consumer: AIOKafkaConsumer) -> bool:
        """Start ``consumer``, which returns once the group assigned it partitions; False if a
        stop came first or the join got stuck (a group join can take many seconds)."""
        task = asyncio.ensure_future(consumer.start())
        stopping = asyncio.ensure_future(self._stopping.wait())
        while not (task.done() or stopping.done() or self._rebalances.stuck()):
            await asyncio.wait(
                {task, stopping}, timeout=_JOIN_CHECK_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
        stopping.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, KafkaError):
            await task
        return False

    async def _fetch(self, consumer: AIOKafkaConsumer) -> None:
        """Start as many fetched messages as there is room for; wait for room when full."""
        room = self._tuning.max_in_flight - len(self._in_flight)
        if room <= 0:
            await asyncio.wait(
                set(self._in_flight), timeout=_IDLE_FETCH_MS / 1000, return_when="FIRST_COMPLETED"
            )
            return
        batch = await consumer.getmany(
            timeout_ms=_BUSY_FETCH_MS if self._in_flight else _IDLE_FETCH_MS,
            max_records=min(room, self._kafka.max_batch),
        )
        for tp, messages in batch.items():
            progress = self._progress.setdefault(tp, PartitionProgress())
            for message in messages:
                self._start(tp, progress, message)
        self._metrics.consumer_in_flight.set(len(self._in_flight))

    def _start(
        self, tp: TopicPartition, progress: PartitionProgress, message: ConsumerRecord
    ) -> None:
        lane = (tp, message.key)
        task = asyncio.create_task(self._in_order(message, self._tails.get(lane)))
        self._tails[lane] = task
        self._in_flight[task] = tp
        progress.started(message.offset)

        def finished(done: asyncio.Task[bool]) -> None:
            self._in_flight.pop(done, None)
            if self._tails.get(lane) is done:
                del self._tails[lane]
            if not done.cancelled() and done.exception() is None and done.result():
                progress.finished(message.offset)

        task.add_done_callback(finished)

    async def _in_order(self, message: ConsumerRecord, before: asyncio.Task[bool] | None) -> bool:
        """Handle ``message`` once the one before it in its lane finished; never overtake one
        that did not finish (stopped or cancelled): that would reorder the record's events."""
        if before is not None:
            await asyncio.wait({before})  # not ``await before``: cancelling us must not cancel it
            if before.cancelled() or before.exception() is not None or not before.result():
                return False
        return await self._deliver(message)

    async def drain(self, partitions: set[TopicPartition]) -> None:
        """Let the work of ``partitions`` finish (bounded by ``drain_seconds``), commit it, then
        forget them; what did not finish is cancelled and re-read by whoever owns them next."""
        tasks = {task for task, tp in self._in_flight.items() if tp in partitions}
        if tasks:
            log.info("draining in-flight messages", extra={"messages": len(tasks)})
            await asyncio.wait(tasks, timeout=self._tuning.drain_seconds)
        if self._consumer is not None:
            await self._commit(self._consumer, partitions)
        for task in tasks:
            task.cancel()
        for tp in partitions:
            self._progress.pop(tp, None)
            # Another member reports it now; a stale value here would double its lag.
            with contextlib.suppress(KeyError):
                self._metrics.consumer_lag.remove(self._group_id, tp.topic, str(tp.partition))
        for lane in [lane for lane in self._tails if lane[0] in partitions]:
            del self._tails[lane]

    async def _commit(
        self, consumer: AIOKafkaConsumer, only: set[TopicPartition] | None = None
    ) -> None:
        offsets = {
            tp: point
            for tp, progress in self._progress.items()
            if (only is None or tp in only) and (point := progress.commit_point()) is not None
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except CommitFailedError:
            # The group rebalanced under us; the new owner re-reads and the handlers are idempotent.
            log.warning("commit lost to a rebalance", extra={"partitions": len(offsets)})
            return
        for tp, point in offsets.items():
            self._progress[tp].committed(point)

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            # Fetched is not done: a poster stuck on its messages must show them as lag.
            progress = self._progress.get(tp)
            start = progress.first_unfinished() if progress else None
            if start is None:
                start = await consumer.position(tp)
            self._metrics.consumer_lag.labels(self._group_id, tp.topic, str(tp.partition)).set(
                highwater - start
            )
