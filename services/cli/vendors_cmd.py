"""``connector vendors sync NAME``: the full vendor sync, every Coupa supplier the normal way.

The poll only asks Coupa for suppliers changed since its cursor (and a new connection's first
poll looks back 30 days), so a supplier nobody touched lately never reaches Deltek by itself.
The full sync walks all of Coupa's suppliers and puts each version into the Coupa inbox, exactly
as the poll does: ingest publishes the versions it has not seen, the mapper turns them into
``UpsertVendor`` commands and the poster writes only what differs. Stored supplier versions
that never got to Deltek (received before ``create_vendors`` was turned on, parked, failed) are
re-sent as a replay. A second run finds every version known and synced, and writes nothing.
"""

from __future__ import annotations

import argparse

from services.cli.connections_cmd import run_guarded, say
from services.cli.db_cmd import database
from services.ingest.inbox import accept
from shared.connections.store import load_connection
from shared.coupa import CoupaClient
from shared.endpoints import resolve_endpoints
from shared.http import HttpError
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics
from shared.logs import configure_logging
from shared.replay import Selection, plan, select, send
from shared.secrets import KeyRing
from shared.settings import Settings

UNSYNCED = ("received", "parked", "failed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sync = actions.add_parser(
        "sync",
        help="send every Coupa supplier of a connection to Deltek (only changes are written)",
    )
    sync.add_argument("name", help="the connection")


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging("vendors", settings.log_level)
    return run_guarded(f"vendors {args.action}", sync_now(args.name, settings))


async def sync_now(name: str, settings: Settings) -> int:
    ring = KeyRing.from_settings(settings)
    async with database(settings, "vendors sync") as db:
        connection = await load_connection(db, ring, name)
        if not connection.settings.mapping.create_vendors:
            say(f"connector vendors sync: {name} has mapping.create_vendors off", err=True)
            return 2
        queued = known = 0
        try:
            async with CoupaClient(connection.coupa_config()) as coupa:
                async for supplier in coupa.iter_suppliers():
                    if await accept(db, name, "supplier", supplier.raw, "poll"):
                        queued += 1
                    else:
                        known += 1
        except HttpError as exc:
            say(f"connector vendors sync: Coupa answered: {exc}", err=True)
            return 1
        topics = Topics(settings.kafka.topic_prefix)
        stored = await select(db, Selection(states=UNSYNCED, connection=name))
        replays = plan([row for row in stored if row["kind"] == "supplier"], topics)
        if replays:
            publisher = Publisher(resolve_endpoints(settings).kafka_bootstrap, settings.kafka)
            await publisher.start()
            try:
                await send(db, publisher, replays, by="vendors sync")
            finally:
                await publisher.stop()
    say(
        f"{name}: {queued + known} Coupa suppliers; {queued} new or changed sent on, "
        f"{len(replays)} stored but not yet in Deltek sent again, {known} already received"
    )
    return 0
