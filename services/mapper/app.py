"""The mapper service: Coupa events in, Deltek write commands out, the rest parked with reasons.

One consumer stores every invoice and supplier event as a record and settles invoices (map,
park, supersede or flag) against each connection's reference snapshot held in memory; a resume
loop listens on ``connector_mappings``, marks snapshots stale when maps or the Deltek reference
cache change, re-settles parked invoices then, and sweeps periodically. A third loop counts the
record and dead-letter gauges (``shared/service/state_gauges.py``).
"""

from __future__ import annotations

from aiohttp import web

from services.mapper.handler import mapper_handler
from services.mapper.metrics import MapperMetrics
from services.mapper.resume import ResumeLoop
from services.mapper.snapshots import ReferenceSnapshots
from services.mapper.workflow import MapperDeps
from shared.connections.store import load_connection_settings
from shared.endpoints import Endpoints
from shared.service.app import (
    ENDPOINTS,
    METRICS,
    POOL,
    PUBLISHER,
    SETTINGS,
    add_background_loop,
    base_app,
)
from shared.service.consuming import add_consumer, topics_of
from shared.service.state_gauges import DeadLetterOffsets, StateGaugeLoop, StateGauges
from shared.settings import Settings

SERVICE = "mapper"
MAPPER_METRICS = web.AppKey("mapper_metrics", MapperMetrics)
SNAPSHOTS = web.AppKey("reference_snapshots", ReferenceSnapshots)
STATE_GAUGES = web.AppKey("state_gauges", StateGauges)


def mapper_deps(app: web.Application) -> MapperDeps:
    return MapperDeps(
        pool=app[POOL],
        publisher=app[PUBLISHER],
        topics=topics_of(app),
        # Connection settings straight from the ``connections`` table on every use, so a
        # ``connector connections apply`` takes effect at once; no secrets are needed to map.
        settings_for=load_connection_settings,
        references=app[SNAPSHOTS],
        metrics=app[MAPPER_METRICS],
    )


def state_gauge_loop(app: web.Application) -> StateGaugeLoop:
    return StateGaugeLoop(
        app[POOL],
        app[STATE_GAUGES],
        DeadLetterOffsets(app[ENDPOINTS].kafka_bootstrap, topics_of(app).main()),
        interval_seconds=app[SETTINGS].mapper.state_gauges_seconds,
    )


def create_app(settings: Settings, endpoints: Endpoints) -> web.Application:
    app = base_app(SERVICE, settings, endpoints)
    app[MAPPER_METRICS] = MapperMetrics(app[METRICS].registry)
    app[STATE_GAUGES] = StateGauges(app[METRICS].registry)
    # One set for the consumer's handlers and the resume loop, whose feed keeps it current.
    app[SNAPSHOTS] = ReferenceSnapshots(ttl_seconds=settings.mapper.reference_ttl_seconds)
    add_consumer(
        app,
        group="connector-mapper",
        topics=lambda t: [t.coupa_invoices, t.coupa_suppliers],
        handler=lambda app: mapper_handler(mapper_deps(app)),
    )
    add_background_loop(
        app,
        lambda app: ResumeLoop(
            mapper_deps(app),
            database_url=app[ENDPOINTS].database_url,
            interval_seconds=app[SETTINGS].mapper.resume_interval_seconds,
            batch=app[SETTINGS].mapper.resume_batch,
        ),
    )
    add_background_loop(app, state_gauge_loop)
    return app
