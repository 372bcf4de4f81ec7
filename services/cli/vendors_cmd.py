"""``connector vendors sync NAME``: the full vendor sync, every Coupa supplier the normal way.

The poll only asks Coupa for suppliers changed since its cursor (and a new connection's first
poll looks back 30 days), so a supplier nobody touched lately never reaches Deltek by itself.
The full sync walks all of Coupa's suppliers and puts each version into the Coupa inbox, exactly
as the poll does: ingest publishes the versions it has not seen, the mapper turns them into
``UpsertVendor`` commands and the poster writes only what differs. Stored supplier versions
that never got to Deltek (received before ``create_vendors`` was turned on, parked, failed) are
re-sent as a replay. A second run finds every version known and synced, and writes nothing.

``--dry-run`` writes nothing anywhere (no inbox row, no message, no Deltek or Coupa write): it
reads every Coupa supplier, the Deltek vendor firms and the connection's maps, and judges each
supplier the way ``connector preview`` does (``plan_vendors``, the poster's own decisions in
``firms.py``), then prints per supplier the fields it would write, what Deltek holds and what
Coupa says, and ends with one line: ``vendors sync --dry-run: V would be created, U updated,
N unchanged, P parked``. Suppliers it would leave unchanged are only counted.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from services.cli.connections_cmd import run_guarded, say
from services.cli.db_cmd import database
from services.cli.dev_key import key_ring
from services.cli.preview.plan import (
    Plan,
    VendorPlan,
    plan_vendors,
    read_reference,
    read_suppliers,
)
from services.cli.progress import Step, add_quiet_flag, progress
from services.cli.replay_cmd import send_counted
from services.ingest.inbox import accept
from shared.connections.model import Connection
from shared.connections.store import load_connection
from shared.coupa import CoupaClient
from shared.db.pool import Connection as Db
from shared.deltek import DeltekClient
from shared.endpoints import resolve_endpoints
from shared.http import HttpError
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics
from shared.logs import configure_logging
from shared.mappings import load_mappings
from shared.replay import Selection, plan, select
from shared.settings import Settings

UNSYNCED = ("received", "parked", "failed")
READING = [Step("suppliers", "reading Coupa suppliers")]
_WOULD = {"create": "would be created", "update": "would be updated", "park": "would park"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sync = actions.add_parser(
        "sync",
        help="send every Coupa supplier of a connection to Deltek (only changes are written)",
    )
    sync.add_argument("name", help="the connection")
    sync.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be written to Deltek, supplier by supplier and field by field, "
        "and write nothing anywhere",
    )
    add_quiet_flag(sync)


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging("vendors", settings.log_level)
    work = dry_run if args.dry_run else sync_now
    return run_guarded(f"vendors {args.action}", work(args.name, settings, quiet=args.quiet))


async def _syncing(db: Db, name: str, settings: Settings) -> Connection | None:
    """The connection, or None (and why on stderr) when it does not sync vendors."""
    connection = await load_connection(db, key_ring(settings, "vendors sync"), name)
    if not connection.settings.mapping.create_vendors:
        say(f"connector vendors sync: {name} has mapping.create_vendors off", err=True)
        return None
    return connection


async def sync_now(name: str, settings: Settings, *, quiet: bool) -> int:
    async with database(settings, "vendors sync") as db:
        connection = await _syncing(db, name, settings)
        if connection is None:
            return 2
        queued = known = 0
        try:
            async with CoupaClient(connection.coupa_config()) as coupa:
                with progress(READING, quiet=quiet) as tell:
                    async for supplier in coupa.iter_suppliers():
                        if await accept(db, name, "supplier", supplier.raw, "poll"):
                            queued += 1
                        else:
                            known += 1
                        tell("suppliers", 1)
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
                doing = "sending stored suppliers again"
                await send_counted(
                    db, publisher, replays, by="vendors sync", doing=doing, quiet=quiet
                )
            finally:
                await publisher.stop()
    say(
        f"{name}: {queued + known} Coupa suppliers; {queued} new or changed sent on, "
        f"{len(replays)} stored but not yet in Deltek sent again, {known} already received"
    )
    return 0


async def dry_run(name: str, settings: Settings, *, quiet: bool) -> int:
    """What ``sync_now`` would write, from Coupa, Deltek and the maps; reads only."""
    async with database(settings, "vendors sync") as db:
        connection = await _syncing(db, name, settings)
        if connection is None:
            return 2
        maps = await load_mappings(db, name)
    pipeline = connection.pipeline_settings()
    try:
        async with (
            CoupaClient(connection.coupa_config()) as coupa,
            DeltekClient(connection.deltek_config()) as deltek,
        ):
            ref = await read_reference(deltek, maps, ("vendors",))
            with progress(READING, quiet=quiet) as tell:
                suppliers = await read_suppliers(coupa, tell)
            plans = await plan_vendors(deltek, pipeline, ref, suppliers)
    except HttpError as exc:
        say(f"connector vendors sync: {exc}", err=True)
        return 1
    say(f"{name}: {len(plans)} Coupa suppliers read; nothing was written")
    for vendor in plans:
        if vendor.verdict != "unchanged":
            say(_shown(vendor))
    say(_summary(plans))
    return 0


def _summary(plans: Sequence[VendorPlan]) -> str:
    count = Plan(vendors=list(plans)).vendors_to
    return (
        f"vendors sync --dry-run: {count('create')} would be created, {count('update')} updated, "
        f"{count('unchanged')} unchanged, {count('park')} parked"
    )


def _shown(vendor: VendorPlan) -> str:
    """One supplier's verdict line, then the fields it would write as a table. Every value is
    what a supplier or a Deltek user typed, so it goes in as ``Text``, never read as markup."""
    firm = f" (Deltek firm {vendor.firm})" if vendor.firm else ""
    console = Console()
    with console.capture() as shown:
        console.print(Text(f"{vendor.supplier}: {_WOULD[vendor.verdict]}{firm}"), soft_wrap=True)
        for reason in vendor.reasons:
            console.print(Text(f"  {reason}"), soft_wrap=True)
        if vendor.changes:
            table = Table("part", "field", "in Deltek", "from Coupa")
            for change in vendor.changes:
                cells = (change.part, change.name, change.in_deltek, change.from_coupa)
                table.add_row(*(Text(cell) for cell in cells))
            console.print(table)
    return shown.get().rstrip("\n")
