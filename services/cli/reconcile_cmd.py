"""``connector reconcile NAME --period YYYY-MM``: Coupa's approved invoices of a period against
Deltek's AP and the connector's own records, every invoice in one class (``shared.reconcile``).

Reads only (token requests and GETs). ``--all`` reconciles the current and the previous period
of every connection with ``reconcile.enabled`` (the default), the scheduled run (a CronJob: it
needs both APIs, which no single service may reach). Each run is stored
(``reconciliation_runs``) for the gauges and the alert; progress is drawn on stderr, and only on
a terminal (``progress.py``).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from services.cli.connections_cmd import run_guarded, say
from services.cli.db_cmd import database
from services.cli.dev_key import key_ring
from services.cli.progress import add_quiet_flag, progress
from services.cli.reconcile.report import show, write_csv
from services.cli.reconcile.run import STEPS, reconcile
from shared.connections.store import list_connections
from shared.http import HttpError
from shared.logs import configure_logging
from shared.settings import Settings


def _period(text: str) -> int:
    """``2026-12`` → ``202612``, Deltek's period number."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month as YYYY-MM")
    return int(text.replace("-", ""))


def current_and_previous(now: datetime) -> list[int]:
    """The periods the scheduled run covers: last month's (it may still change) and this one."""
    previous = (now.year - 1) * 100 + 12 if now.month == 1 else now.year * 100 + now.month - 1
    return [previous, now.year * 100 + now.month]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="the connection (or --all)")
    parser.add_argument(
        "--period", type=_period, metavar="YYYY-MM", help="the month (default: this month)"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="every connection, the current and the previous period (the scheduled run)",
    )
    parser.add_argument("--csv", type=Path, metavar="PATH", help="also write every finding here")
    parser.add_argument(
        "--no-store", action="store_true", help="do not keep the result for the metrics"
    )
    add_quiet_flag(parser)


def run(args: argparse.Namespace) -> int:
    if bool(args.name) == bool(args.all) or (args.all and args.csv):
        say("connector reconcile: name one connection (--csv is for one), or give --all", err=True)
        return 2
    settings = Settings()
    configure_logging("reconcile", settings.log_level)
    return run_guarded("reconcile", _reconcile(args, settings))


async def _reconcile(args: argparse.Namespace, settings: Settings) -> int:
    now = datetime.now(UTC)
    ring = key_ring(settings, "reconcile")
    # Piped or logged (a CronJob), the tables keep a width that fits their columns.
    console = Console(width=None if sys.stdout.isatty() else 160)
    async with database(settings, "reconcile") as db:
        names = (
            [c.name for c in await list_connections(db) if c.settings.reconcile.enabled]
            if args.all
            else [args.name]
        )
        periods = current_and_previous(now) if args.all and not args.period else []
        periods = periods or [args.period or now.year * 100 + now.month]
        failed = 0
        for name in names:
            for period in periods:
                try:
                    with progress(STEPS, quiet=args.quiet) as tell:
                        result = await reconcile(
                            db, ring, name, period, tell, store=not args.no_store
                        )
                except HttpError as exc:
                    say(f"connector reconcile: {name} {period}: {exc}", err=True)
                    failed += 1
                    continue
                show(result, console)
                if args.csv:
                    write_csv(result, args.csv)
                    say(f"wrote {args.csv}")
    return 1 if failed else 0
