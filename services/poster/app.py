"""The poster service: consumes Deltek write commands; scales out up to the partition count.

The idempotent Deltek writes themselves arrive with issue 4; today each command is taken off
``deltek.writes`` with a manual commit and recorded in its record's audit trail.
"""

from __future__ import annotations

from aiohttp import web

from shared.service.app import base_app
from shared.service.consuming import add_consumer, audit_each
from shared.settings import Settings
from shared.stack import Endpoints

SERVICE = "poster"


def create_app(settings: Settings, endpoints: Endpoints) -> web.Application:
    app = base_app(SERVICE, settings, endpoints)
    add_consumer(
        app,
        group="connector-poster",
        topics=lambda t: [t.deltek_writes],
        handler=audit_each(SERVICE, "command_received"),
    )
    return app
