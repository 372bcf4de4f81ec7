"""The ingest service: Coupa Call Outs and the Coupa poll in, Kafka topics out.

Pushes and polls meet in the Coupa inbox (one row per object version), which a background drain
publishes to ``coupa.invoices`` / ``coupa.suppliers``, invoices with the purchase orders their
lines cite, from the PO cache the poll keeps fresh. Ingest also consumes ``deltek.results`` into
the audit trail and, in a group of its own, to flag posted invoices exported in Coupa
(``exported.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web
from prometheus_client import Counter, Gauge

from services.ingest.callouts import CalloutRoutes
from services.ingest.directory import CalloutDirectory, CoupaConnections
from services.ingest.drain import InboxDrain
from services.ingest.exported import ExportMarker, export_outcomes
from services.ingest.poller import Poller
from shared.connections.store import load_connection_settings
from shared.endpoints import Endpoints
from shared.service.app import METRICS, POOL, PUBLISHER, add_background_loop, base_app
from shared.service.connections import use_connections
from shared.service.consuming import add_consumer, audit_each, topics_of
from shared.settings import Settings

SERVICE = "ingest"
CONNECTIONS = web.AppKey("connections", CoupaConnections)


@dataclass
class _Drains:
    """The running drain, so a Call Out can wake it; empty until the app has started."""

    running: list[InboxDrain] = field(default_factory=list)

    def wake(self) -> None:
        for drain in self.running:
            drain.wake()


def create_app(
    settings: Settings, endpoints: Endpoints, connections: CoupaConnections | None = None
) -> web.Application:
    """The service; ``connections`` defaults to the encrypted connections store."""
    app = base_app(SERVICE, settings, endpoints)
    use_connections(app, CONNECTIONS, connections)
    drains = _Drains()
    callouts = Counter(
        "connector_callouts_total",
        "Call Outs and token requests by kind and outcome",
        ["kind", "outcome"],
        registry=app[METRICS].registry,
    )
    CalloutRoutes(
        lambda: app[POOL],
        CalloutDirectory(lambda: app[CONNECTIONS]),
        drains.wake,
        callouts,
        max_body_bytes=settings.max_body_bytes,
    ).add_to(app)

    last_poll = Gauge(
        "connector_last_successful_poll_timestamp_seconds",
        "When this replica last read every Coupa feed of the connection to its end",
        ["connection"],
        registry=app[METRICS].registry,
    )
    tuning = settings.ingest

    def make_drain(app: web.Application) -> InboxDrain:
        drain = InboxDrain(
            app[POOL],
            app[PUBLISHER],
            topics_of(app),
            app[CONNECTIONS],
            po_max_age=timedelta(seconds=tuning.purchase_order_max_age_seconds),
        )
        drains.running.append(drain)
        return drain

    add_background_loop(app, make_drain)
    add_background_loop(
        app,
        lambda app: Poller(
            app[POOL],
            app[CONNECTIONS],
            on_accepted=drains.wake,
            on_polled=lambda name: last_poll.labels(name).set_to_current_time(),
            overlap=timedelta(seconds=tuning.poll_overlap_seconds),
            head_margin=timedelta(seconds=tuning.poll_head_margin_seconds),
            first_lookback=timedelta(days=tuning.first_poll_lookback_days),
        ),
    )
    add_consumer(
        app,
        group="connector-ingest",
        topics=lambda t: [t.deltek_results],
        handler=audit_each(SERVICE, "result_received"),
    )
    exports = export_outcomes(app[METRICS].registry)
    add_consumer(
        app,
        group="connector-ingest-exports",
        topics=lambda t: [t.deltek_results],
        handler=lambda app: (
            ExportMarker(
                app[POOL], app[CONNECTIONS].coupa, load_connection_settings, exports
            ).handle
        ),
    )
    return app
