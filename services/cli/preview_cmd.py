"""``connector preview NAME``: what going live would do, read from Coupa and Deltek, no writes.

A firm going live wants to see the vouchers, parked invoices and vendor changes before the first
write. The preview reads both systems (token requests and GETs only), judges every approved
invoice and supplier the way the pipeline would (``preview/plan.py``), writes CSV files and one
HTML page for people (``preview/report.py``), and ends its output with exactly one line:
``preview: I invoices would post, P would park, A already in Deltek; V vendors would be
created, U updated``. Progress goes to stderr, so that line is the last one on stdout.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn

from services.cli.connections_cmd import run_guarded, say
from services.cli.db_cmd import database
from services.cli.preview.plan import (
    Plan,
    plan_invoices,
    plan_vendors,
    read_reference,
    read_suppliers,
)
from services.cli.preview.plan import (
    Progress as Tell,
)
from services.cli.preview.report import write_report
from shared.connections.store import load_connection
from shared.coupa import CoupaClient
from shared.deltek import DeltekClient
from shared.http import HttpError
from shared.logs import configure_logging
from shared.mappings import load_mappings
from shared.secrets import KeyRing
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


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging("preview", settings.log_level)
    return run_guarded("preview", preview(args, settings))


@contextmanager
def _progress() -> Iterator[Tell]:
    """A live count of what was read, on stderr (plain lines where stderr is no terminal)."""
    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True
    ) as bar:
        tasks = {
            kind: bar.add_task(f"reading Coupa {kind}", total=None)
            for kind in ("suppliers", "invoices")
        }

        def tell(kind: str, n: int) -> None:
            bar.advance(tasks[kind], n)
            done = int(bar.tasks[tasks[kind]].completed)
            bar.update(tasks[kind], description=f"reading Coupa {kind}: {done}")

        yield tell


async def preview(args: argparse.Namespace, settings: Settings) -> int:
    since = args.since or datetime.now(UTC) - timedelta(
        days=settings.ingest.first_poll_lookback_days
    )
    out: Path = args.out or Path(f"preview-{args.name}")
    ring = KeyRing.from_settings(settings)
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
                with _progress() as tell:
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
