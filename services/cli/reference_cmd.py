"""``connector reference refresh NAME``: pull one connection's Deltek reference data now.

The same refresh the poster runs on its schedule (``shared.reference.refresh``): vendors, GL
accounts, projects with phases and tasks, and periods replace the cached rows, then the mapper
is notified so records parked for want of them are tried again.
"""

from __future__ import annotations

import argparse

from services.cli.connections_cmd import run_guarded, say
from services.cli.db_cmd import database
from services.cli.dev_key import key_ring
from shared.connections.store import load_connection
from shared.db.pool import create_pool
from shared.deltek import DeltekClient
from shared.endpoints import resolve_database_url
from shared.http import HttpError
from shared.logs import configure_logging
from shared.reference.cache import KINDS
from shared.reference.refresh import refresh
from shared.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    refresh_parser = actions.add_parser(
        "refresh", help="pull a connection's vendors, accounts, projects and periods from Deltek"
    )
    refresh_parser.add_argument("name", help="the connection")


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging("reference", settings.log_level)
    return run_guarded(f"reference {args.action}", refresh_now(args.name, settings))


async def refresh_now(name: str, settings: Settings) -> int:
    ring = key_ring(settings, "reference refresh")
    async with database(settings, "reference refresh") as db:
        connection = await load_connection(db, ring, name)
    url = resolve_database_url(settings)
    assert url is not None  # database() above has already refused a missing one
    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        async with DeltekClient(connection.deltek_config()) as client:
            counts = await refresh(pool, client, name)
    except HttpError as exc:
        say(f"connector reference refresh: Deltek answered: {exc}", err=True)
        return 1
    finally:
        await pool.close()
    for kind in KINDS:
        say(f"{name}: {kind:<9} {counts.get(kind, 0):>7} rows")
    return 0
