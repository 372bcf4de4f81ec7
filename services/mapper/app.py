"""The mapper service: consumes Coupa events and keeps each version of each record in Postgres.

Resolving firms, GL accounts and projects into Deltek write commands builds on this (issue 4);
today every invoice and supplier event is stored once as a record with its audit trail.
"""

from __future__ import annotations

from aiohttp import web

from shared.kafka.consumer import Handler
from shared.kafka.envelope import Coordinates, Envelope
from shared.records import record_received
from shared.service.app import POOL, base_app
from shared.service.consuming import add_consumer
from shared.settings import Settings
from shared.stack import Endpoints

SERVICE = "mapper"


def receive_handler(app: web.Application) -> Handler:
    async def handle(envelope: Envelope, coords: Coordinates) -> None:
        async with app[POOL].acquire() as conn:
            await record_received(conn, envelope, coords, service=SERVICE)

    return handle


def create_app(settings: Settings, endpoints: Endpoints) -> web.Application:
    app = base_app(SERVICE, settings, endpoints)
    add_consumer(
        app,
        group="connector-mapper",
        topics=lambda t: [t.coupa_invoices, t.coupa_suppliers],
        handler=receive_handler,
    )
    return app
