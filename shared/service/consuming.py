"""Wiring a Kafka consumer loop into a service app, so handlers stay free of Kafka code."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from shared.dead_letters import DeadLetterStore
from shared.kafka.consumer import ConsumerLoop, MessageHandler
from shared.kafka.envelope import Coordinates, Envelope
from shared.kafka.topics import Topics
from shared.records import append_audit
from shared.service.app import (
    ENDPOINTS,
    METRICS,
    POOL,
    PUBLISHER,
    SETTINGS,
    add_background_loop,
)


def topics_of(app: web.Application) -> Topics:
    return Topics(app[SETTINGS].kafka.topic_prefix)


def add_consumer(
    app: web.Application,
    *,
    group: str,
    topics: Callable[[Topics], list[str]],
    handler: Callable[[web.Application], MessageHandler],
) -> None:
    """Consume ``topics`` as group ``group`` (prefixed like the topics) with ``handler(app)``."""

    def make(app: web.Application) -> ConsumerLoop:
        settings = app[SETTINGS]
        names = topics_of(app)
        return ConsumerLoop(
            bootstrap=app[ENDPOINTS].kafka_bootstrap,
            group_id=f"{names.prefix}{group}",
            topics=topics(names),
            handler=handler(app),
            publisher=app[PUBLISHER],
            metrics=app[METRICS],
            kafka=settings.kafka,
            tuning=settings.consumer,
            # Keeps large originals in Postgres and marks the dead-lettered record failed.
            on_dead_letter=DeadLetterStore(app[POOL], app[METRICS].service),
        )

    add_background_loop(app, make)


def audit_each(service: str, event: str) -> Callable[[web.Application], MessageHandler]:
    """A handler that adds each message to its record's audit trail and does nothing else."""

    def build(app: web.Application) -> MessageHandler:
        async def handle(envelope: Envelope, coords: Coordinates) -> None:
            async with app[POOL].acquire() as conn:
                await append_audit(
                    conn,
                    record_key=envelope.key,
                    service=service,
                    event=event,
                    details={"event_id": str(envelope.event_id), "schema": envelope.schema_name},
                    coords=coords,
                )

        return handle

    return build
