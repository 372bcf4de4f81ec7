"""``connector preview NAME``: what going live would do, read from Coupa and Deltek, no writes.

A firm going live wants to see the vouchers, parked invoices and vendor changes before the first
write. The preview reads both systems (token requests and GETs only), judges every approved
invoice and supplier the way the pipeline would (``preview/plan.py``), writes CSV files and one
HTML page for people (``preview/report.py``), and ends its output with exactly one line:
``preview: I invoices would post, P would park, A already in Deltek; V vendors would be
created, U updated``. Progress is drawn on stderr, and only on a terminal (``progress.py``).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.cli.connections_cmd import run_guarded, say
from services.cli.db_cmd import database
from services.cli.dev_key import key_ring
from services.cli.preview.plan import (
    Plan,
    plan_invoices,
    plan_vendors,
    read_reference,
    read_suppliers,
)
from services.cli.preview.report import write_report
from services.cli.progress import Step, add_quiet_flag, progress
from shared.connections.store import load_connection
from shared.coupa import CoupaClient
from shared.deltek import DeltekClient
from shared.http import HttpError
from shared.logs import configure_logging
from shared.mappings import load_mappings
from shared.settings import Settings
from shared.tenant_facts import LedgerInvoices


def _moment(text: str) -> datetime:
    """An ISO date or time; one without an offset is taken as UTC, one with keeps its instant."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the connection")
    parser.add_argument(
        "--since",
        type=_moment,
        default=None,
        metavar="DATE",
        help="approved invoices changed since DATE (default: as far back as a new connection's "
        "first poll, CONNECTOR_INGEST__FIRST_POLL_LOOKBACK_DAYS)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the reports (default ./preview-NAME)"
    )
    add_quiet_flag(parser)


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging("preview", settings.log_level)
    return run_guarded("preview", preview(args, settings))


# What the preview counts as it reads (the names ``plan.py`` tells them by).
STEPS = [Step(kind, f"reading Coupa {kind}") for kind in ("suppliers", "invoices")]


async def preview(args: argparse.Namespace, settings: Settings) -> int:
    since = args.since or datetime.now(UTC) - timedelta(
        days=settings.ingest.first_poll_lookback_days
    )
    out: Path = args.out or Path(f"preview-{args.name}")
    ring = key_ring(settings, "preview")
    plan = Plan()
    async with database(settings, "preview") as db:
        connection = await load_connection(db, ring, args.name)
        pipeline = connection.pipeline_settings()
        maps = await load_mappings(db, args.name)
        try:
            async with (
                CoupaClient(connection.coupa_config()) as coupa,
                DeltekClient(connection.deltek_config()) as deltek,
            ):
                # The tenant's ledger column, as the poster finds it out (and keeps it).
                ledger = LedgerInvoices(
                    db, deltek, args.name, fixed=pipeline.deltek.ledger_invoice_column
                )
                with progress(STEPS, quiet=args.quiet) as tell:
                    ref = await read_reference(deltek, maps)
                    suppliers = await read_suppliers(coupa, tell)
                    if pipeline.mapping.create_vendors:
                        plan.vendors = await plan_vendors(deltek, pipeline, ref, suppliers)
                    plan.invoices = await plan_invoices(
                        coupa,
                        deltek,
                        pipeline,
                        ref,
                        suppliers,
                        ledger=ledger,
                        since=since,
                        progress=tell,
                    )
        except HttpError as exc:
            say(f"connector preview: {exc}", err=True)
            return 1
    for path in write_report(plan, out, connection=args.name, since=since):
        say(f"wrote {path}")
    say(plan.summary())
    return 0
