"""Wiring a Kafka consumer loop into a service app, so handlers stay free of Kafka code."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from shared.kafka.consumer import ConsumerLoop, DeadLetterHook, MessageHandler
from shared.kafka.envelope import Coordinates, Envelope
from shared.kafka.topics import Topics
from shared.outages import OUTAGES
from shared.records import append_audit, mark_dead_lettered
from shared.service.app import (
    ENDPOINTS,
    METRICS,
    POOL,
    PUBLISHER,
    SETTINGS,
    add_background_loop,
)

log = logging.getLogger(__name__)


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
            on_dead_letter=_failing_the_record(app),
        )

    add_background_loop(app, make)


def _failing_the_record(app: web.Application) -> DeadLetterHook:
    """Mark a dead-lettered message's record failed, so it shows with its reason, not stuck."""
    service = app[METRICS].service

    async def hook(record_key: str | None, error: str) -> None:
        if record_key is None:
            return
        try:
            async with app[POOL].acquire() as conn:
                await mark_dead_lettered(conn, record_key, service, error)
        except OUTAGES as exc:
            # The dead letter itself is kept; `connector replay` can still take it back.
            log.warning("could not mark a dead-lettered record", extra={"error": repr(exc)})

    return hook


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
