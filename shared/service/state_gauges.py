"""The numbers an operator asks for first, counted where they are true: records by state and the
oldest parked record in Postgres, dead letters waiting on each dead-letter topic in Kafka.

One periodic task computes them (the mapper runs it, every ``mapper.state_gauges_seconds``)
instead of every scrape, so Prometheus' scrape rate never turns into queries. Each replica
exports the same values; queries aggregate with ``max by (...)``.

Only states a record can leave, or that wait for a person, are counted: ``posted`` and
``superseded`` are final and grow without end, and counting them would scan the whole history.
A connection with nothing in a state still reports 0, so an alert sees a value, not a gap.

Dead-letter depth of a topic: the messages its ``<topic>.dlq`` holds (end offset minus first
retained offset, per partition) that ``connector replay --dead-letters <topic>`` has not put back
(``dead_letter_replays``). A dead letter replayed and failing again is a new message, and counts.
The label is the original topic, the one the replay command takes.

Reconciliations: the latest stored run of each connection's period (``shared/reconcile/results``,
written by ``connector reconcile``), so the alert on a closed period that does not balance reads
what the last run found, however long ago the CronJob ran.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Gauge

from shared.db.pool import Connection, Pool
from shared.kafka.topics import dead_letter_topic
from shared.outages import LOOP_SETBACKS
from shared.reconcile.results import PeriodResult, latest_results
from shared.service.waiting import wait_for_event

log = logging.getLogger(__name__)

# received, mapped and posting are "in flight": on their way to Deltek without a person.
IN_FLIGHT_STATES = ("received", "mapped", "posting")
COUNTED_STATES = (*IN_FLIGHT_STATES, "parked", "previewed", "failed", "flagged")


@dataclass(frozen=True)
class Retained:
    """What one partition of ``topic``'s dead-letter topic holds: offsets ``[first, end)``."""

    topic: str
    dlq_topic: str
    partition: int
    first: int
    end: int


@dataclass(frozen=True)
class Snapshot:
    records: dict[tuple[str, str], int] = field(default_factory=dict)  # (connection, state)
    oldest_parked_seconds: dict[str, float] = field(default_factory=dict)
    # topic -> its dead letters; None when the broker could not be read (the last values stay)
    dead_letters: dict[str, int] | None = field(default_factory=dict)
    reconciliations: list[PeriodResult] = field(default_factory=list)


async def count_records(conn: Connection) -> tuple[dict[tuple[str, str], int], dict[str, float]]:
    """Records by connection and counted state, and the age of each connection's oldest parked
    record (since it was received), 0 where none is parked."""
    names = [row["name"] for row in await conn.fetch("SELECT name FROM connections")]
    rows = await conn.fetch(
        """SELECT connection, state, count(*) AS n FROM records
            WHERE state = ANY($1::text[]) GROUP BY connection, state""",
        list(COUNTED_STATES),
    )
    parked = await conn.fetch(
        """SELECT connection, extract(epoch FROM now() - min(created_at))::float8 AS age
             FROM records WHERE state = 'parked' GROUP BY connection"""
    )
    connections = {*names, *(row["connection"] for row in rows)}
    counts = {(name, state): 0 for name in connections for state in COUNTED_STATES}
    counts.update({(row["connection"], row["state"]): row["n"] for row in rows})
    ages = dict.fromkeys(connections, 0.0)
    ages.update({row["connection"]: max(0.0, row["age"]) for row in parked})
    return counts, ages


async def dead_letter_depth(conn: Connection, retained: Sequence[Retained]) -> dict[str, int]:
    """Per topic: what its dead-letter topic retains, minus those replayed from that range."""
    replayed = await conn.fetch(
        """SELECT r.topic, count(d.digest) AS n
             FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[])
                  AS r(topic, kafka_partition, first_offset, end_offset)
             JOIN dead_letter_replays d
               ON d.dlq_topic = r.topic AND d.dlq_partition = r.kafka_partition
              AND d.dlq_offset >= r.first_offset AND d.dlq_offset < r.end_offset
            GROUP BY r.topic""",
        [span.dlq_topic for span in retained],
        [span.partition for span in retained],
        [span.first for span in retained],
        [span.end for span in retained],
    )
    depth: dict[str, int] = {}
    for span in retained:
        depth[span.topic] = depth.get(span.topic, 0) + span.end - span.first
    original = {span.dlq_topic: span.topic for span in retained}
    for row in replayed:
        depth[original[row["topic"]]] -= row["n"]
    return depth


class DeadLetterOffsets:
    """Reads the retained range of each partition of the dead-letter topics of ``topics``, with
    a consumer outside any group (it commits nothing and joins no rebalance)."""

    def __init__(self, bootstrap: str, topics: Sequence[str]) -> None:
        self._bootstrap = bootstrap
        self._topics = list(topics)
        self._consumer: AIOKafkaConsumer | None = None

    async def retained(self) -> list[Retained]:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap)
            try:
                await consumer.start()
            except BaseException:
                await consumer.stop()
                raise
            self._consumer = consumer
        consumer = self._consumer
        await consumer.topics()  # refreshes the metadata, so topics made since are seen
        original = {dead_letter_topic(topic): topic for topic in self._topics}
        partitions = [
            TopicPartition(dlq, partition)
            for dlq in original
            for partition in consumer.partitions_for_topic(dlq) or ()
        ]
        if not partitions:
            return []
        firsts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        return [
            Retained(original[tp.topic], tp.topic, tp.partition, firsts[tp], ends[tp])
            for tp in partitions
        ]

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


class StateGauges:
    """The gauges, replaced whole at each update so a connection or topic that is gone leaves."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.records = Gauge(
            "connector_records",
            "Records by connection and state, for the states that are not final "
            "(received, mapped, posting: in flight) or wait for a person "
            "(parked, previewed, failed, flagged)",
            ["connection", "state"],
            registry=registry,
        )
        self.oldest_parked = Gauge(
            "connector_oldest_parked_seconds",
            "Age of the connection's oldest parked record, since it was received; 0 if none",
            ["connection"],
            registry=registry,
        )
        self.dead_letters = Gauge(
            "connector_dead_letters",
            "Dead letters of the topic (on its <topic>.dlq) not yet replayed",
            ["topic"],
            registry=registry,
        )
        self.reconciliation_invoices = Gauge(
            "connector_reconciliation_invoices",
            "Invoices of the period in each reconciliation class, at the period's latest run",
            ["connection", "period", "class"],
            registry=registry,
        )
        self.reconciliation_amount = Gauge(
            "connector_reconciliation_amount",
            "Money of the period's invoices in each reconciliation class, per currency",
            ["connection", "period", "class", "currency"],
            registry=registry,
        )
        self.reconciliation_closed = Gauge(
            "connector_reconciliation_period_closed",
            "1 when the reconciled period was closed in Deltek at its latest run, else 0",
            ["connection", "period"],
            registry=registry,
        )
        self.reconciliation_run = Gauge(
            "connector_reconciliation_last_run_timestamp_seconds",
            "When the period's latest reconciliation finished",
            ["connection", "period"],
            registry=registry,
        )
        self.updated = Gauge(
            "connector_state_gauges_updated_timestamp_seconds",
            "When the record and dead-letter gauges were last computed",
            registry=registry,
        )

    def publish(self, snapshot: Snapshot, *, now: float) -> None:
        """No await in here: a scrape never sees the gauges half replaced."""
        _replace(self.records, {labels: float(n) for labels, n in snapshot.records.items()})
        _replace(
            self.oldest_parked,
            {(name,): age for name, age in snapshot.oldest_parked_seconds.items()},
        )
        if snapshot.dead_letters is not None:
            dead = snapshot.dead_letters
            _replace(self.dead_letters, {(topic,): float(n) for topic, n in dead.items()})
        self._publish_reconciliations(snapshot.reconciliations)
        self.updated.set(now)

    def _publish_reconciliations(self, results: Sequence[PeriodResult]) -> None:
        invoices: dict[tuple[str, ...], float] = {}
        amounts: dict[tuple[str, ...], float] = {}
        for result in results:
            period = str(result.period)
            for total in result.totals:
                key = (result.connection, period, total.kind)
                invoices[key] = invoices.get(key, 0.0) + total.invoices
                if total.currency:
                    amounts[(*key, total.currency)] = float(total.amount)
        _replace(self.reconciliation_invoices, invoices)
        _replace(self.reconciliation_amount, amounts)
        _replace(
            self.reconciliation_closed,
            {(r.connection, str(r.period)): float(r.closed) for r in results},
        )
        _replace(
            self.reconciliation_run,
            {(r.connection, str(r.period)): r.finished_at.timestamp() for r in results},
        )


def _replace(gauge: Gauge, values: Mapping[tuple[str, ...], float]) -> None:
    gauge.clear()
    for labels, value in values.items():
        gauge.labels(*labels).set(value)


class StateGaugeLoop:
    """Updates ``gauges`` every ``interval_seconds``; a round Postgres failed is logged and the
    gauges keep their last values (``..._updated_timestamp_seconds`` shows how old they are)."""

    def __init__(
        self,
        pool: Pool,
        gauges: StateGauges,
        offsets: DeadLetterOffsets,
        *,
        interval_seconds: float,
    ) -> None:
        self._pool = pool
        self._gauges = gauges
        self._offsets = offsets
        self._interval = interval_seconds
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    await self.update()
                except LOOP_SETBACKS as exc:
                    log.warning("state gauges not updated", extra={"error": repr(exc)})
                await wait_for_event(self._stopping, self._interval)
        finally:
            await self._offsets.close()

    async def update(self) -> None:
        """Records from Postgres alone when the broker is down: they matter most then."""
        try:
            retained: list[Retained] | None = await self._offsets.retained()
        except KafkaError as exc:
            log.warning("dead letters not counted", extra={"error": repr(exc)})
            retained = None
        async with self._pool.acquire() as conn:
            records, ages = await count_records(conn)
            depth = None if retained is None else await dead_letter_depth(conn, retained)
            reconciliations = await latest_results(conn)
        self._gauges.publish(Snapshot(records, ages, depth, reconciliations), now=time.time())
