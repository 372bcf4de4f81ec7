"""The poster service: writes AP vouchers to Deltek exactly once and keeps the reference cache.

It consumes ``deltek.writes`` (scaling out up to its partition count) with ``PostHandler`` and
runs ``ReferenceRefresher`` beside it. Both reach connections through one ``DeltekConnections``:
the encrypted connections store (``StoredConnections``) unless another is given, as tests do.
"""

from __future__ import annotations

import os
import socket
import uuid

from aiohttp import web

from services.poster.handler import PostHandler
from services.poster.jobs import DeltekConnections, PosterDeps
from services.poster.metrics import PosterMetrics
from services.poster.refresher import ReferenceRefresher
from shared.endpoints import Endpoints
from shared.kafka.consumer import MessageHandler
from shared.service.app import METRICS, POOL, PUBLISHER, add_background_loop, base_app
from shared.service.connections import use_connections
from shared.service.consuming import add_consumer, topics_of
from shared.settings import PosterTuning, Settings

SERVICE = "poster"
CONNECTIONS = web.AppKey("connections", DeltekConnections)
POSTER_METRICS = web.AppKey("poster_metrics", PosterMetrics)
TUNING = web.AppKey("poster_tuning", PosterTuning)


def owner_id() -> str:
    """Who holds a ledger lease: host and process, plus a nonce against pid reuse."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _handler(app: web.Application) -> MessageHandler:
    deps = PosterDeps(
        pool=app[POOL],
        publisher=app[PUBLISHER],
        topics=topics_of(app),
        connections=app[CONNECTIONS],
        metrics=app[POSTER_METRICS],
        owner=owner_id(),
        tuning=app[TUNING],
    )
    return PostHandler(deps)


def _refresher(app: web.Application) -> ReferenceRefresher:
    return ReferenceRefresher(
        app[POOL],
        app[CONNECTIONS],
        app[POSTER_METRICS],
        interval_seconds=app[TUNING].reference_refresh_seconds,
    )


def create_app(
    settings: Settings, endpoints: Endpoints, connections: DeltekConnections | None = None
) -> web.Application:
    """The service; ``connections`` defaults to the encrypted connections store."""
    app = base_app(SERVICE, settings, endpoints)
    app[TUNING] = settings.poster
    app[POSTER_METRICS] = PosterMetrics(app[METRICS].registry)
    use_connections(app, CONNECTIONS, connections)
    add_consumer(
        app, group="connector-poster", topics=lambda t: [t.deltek_writes], handler=_handler
    )
    add_background_loop(app, _refresher)
    return app
