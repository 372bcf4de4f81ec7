"""The ingest service: Coupa Call Outs and the Coupa poll in, Kafka topics out.

Webhook routes and the poll arrive with issue 4; today ingest serves health, readiness and
metrics and consumes ``deltek.results`` (for the optional mark-exported step) into the audit
trail.
"""

from __future__ import annotations

from aiohttp import web

from shared.service.app import base_app
from shared.service.consuming import add_consumer, audit_each
from shared.settings import Settings
from shared.stack import Endpoints

SERVICE = "ingest"


def create_app(settings: Settings, endpoints: Endpoints) -> web.Application:
    app = base_app(SERVICE, settings, endpoints)
    add_consumer(
        app,
        group="connector-ingest",
        topics=lambda t: [t.deltek_results],
        handler=audit_each(SERVICE, "result_received"),
    )
    return app
