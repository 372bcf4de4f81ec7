"""``connector mappings import|export|check``: explicit maps as CSV, and what still lacks one.

Import is all or nothing: the file is checked first (``shared.mappings_csv``: header
``coupa_value,deltek_value``, values trimmed, none empty, no Coupa value twice) and every problem
is reported with its line number; then all rows are upserted in one transaction, which also
NOTIFYs the mapper so parked invoices go on by themselves. Rows absent from the file are kept
(import adds and changes, never deletes). A Deltek value not found in the reference cache is
imported with a warning, since the cache may be older than the map. ``check`` exits 1 when
something lacks a mapping, so scripts can gate.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from services.mapper.coverage import coverage
from services.mapper.rules.vendor import INACTIVE_VENDOR
from shared.connections.store import load_connection_settings
from shared.db.pool import Connection, create_pool
from shared.endpoints import resolve_database_url
from shared.mappings import read_mappings, upsert_mappings
from shared.mappings_csv import KINDS, MappingFileError, is_known, parse_csv, to_csv
from shared.reference.cache import load_reference
from shared.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, words in (("import", "load maps from a CSV file"), ("export", "write maps as CSV")):
        action = actions.add_parser(name, help=words)
        action.add_argument("--connection", required=True, help="the connection's name")
        action.add_argument("--kind", required=True, choices=sorted(KINDS))
        if name == "import":
            action.add_argument("file", type=Path, help="CSV with header coupa_value,deltek_value")
        else:
            action.add_argument("--output", type=Path, help="write here instead of stdout")
    check = actions.add_parser("check", help="list Coupa values that do not resolve")
    check.add_argument("connection", help="the connection's name")


def run(args: argparse.Namespace) -> int:
    url = resolve_database_url(Settings())
    if url is None:
        print(
            "connector mappings: set CONNECTOR_DATABASE_URL or start `connector dev`",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(_with_connection(url, _ACTIONS[args.action], args))


async def _with_connection(
    url: str,
    action: Callable[[Connection, argparse.Namespace], Awaitable[int]],
    args: argparse.Namespace,
) -> int:
    pool = await create_pool(url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            return await action(conn, args)
    finally:
        await pool.close()


async def import_maps(conn: Connection, args: argparse.Namespace) -> int:
    kind = KINDS[args.kind]
    try:
        rows = parse_csv(args.file.read_text(encoding="utf-8"))
    except OSError as exc:
        print(
            f"connector mappings import: cannot read {args.file}: {exc.strerror}", file=sys.stderr
        )
        return 2
    except MappingFileError as exc:
        print(f"connector mappings import: {args.file} was not imported:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    ref = await load_reference(conn, args.connection)
    for coupa, deltek in rows:
        if not is_known(ref, kind, deltek):
            print(f"warning: {deltek} (for {coupa}) is not in the Deltek {args.kind} cache")
    counts = await upsert_mappings(conn, args.connection, kind, rows)
    print(
        f"{args.connection} {args.kind}: {counts.added} added, {counts.changed} changed, "
        f"{counts.unchanged} unchanged"
    )
    return 0


async def export_maps(conn: Connection, args: argparse.Namespace) -> int:
    text = to_csv(await read_mappings(conn, args.connection, KINDS[args.kind]))
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


async def check_maps(conn: Connection, args: argparse.Namespace) -> int:
    settings = await load_connection_settings(conn, args.connection)
    if settings is None:
        print(f"connector mappings check: no connection named {args.connection}", file=sys.stderr)
        return 2
    found = await coverage(conn, settings)
    print(
        f"{args.connection}: {found.invoices} invoices stored, {found.parked} parked, "
        f"{found.suppliers} Coupa suppliers stored"
    )
    print(f"  Coupa suppliers without a Deltek vendor:           {found.count('supplier')}")
    print(f"  Coupa suppliers whose Deltek vendor is inactive:   {found.count(INACTIVE_VENDOR)}")
    print(f"  account segment values without a GL account:       {found.count('account')}")
    print(f"  project codes without an open, chargeable project: {found.count('project')}")
    print(f"  Coupa payment terms without Deltek pay terms:      {found.count('pay_terms')}")
    if not found.gaps:
        print("Every Coupa value in them resolves.")
        return 0
    print("Lacking a mapping or a usable Deltek record:")
    for gap in found.gaps:
        waiting = f", parked: {', '.join(gap.parked)}" if gap.parked else ""
        label = f"  {gap.label}" if gap.label else ""
        kind, state = gap.kind, ""
        if gap.kind == INACTIVE_VENDOR:
            kind, state = "supplier", ", Deltek vendor inactive"
        print(f"  {kind} {gap.coupa_value}{label}{state}: {gap.invoices} invoice(s){waiting}")
    return 1


_ACTIONS: dict[str, Callable[[Connection, argparse.Namespace], Awaitable[int]]] = {
    "import": import_maps,
    "export": export_maps,
    "check": check_maps,
}
