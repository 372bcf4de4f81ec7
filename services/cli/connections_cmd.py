"""``connector connections apply|test|list|show``: store connections encrypted, and check them.

Nothing printed here carries a secret: settings are shown with each secret as ``***`` and the
id of the key sealing it, and every line goes through the log redactor as a last guard.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from services.cli.db_cmd import database
from services.cli.dev_key import key_ring
from shared.connections.diagnose import diagnose
from shared.connections.file import ConnectionFileError, load_connections
from shared.connections.findings import Finding
from shared.connections.model import MissingSecretError
from shared.connections.store import (
    ApplyOutcome,
    ConnectionNotFoundError,
    StoredConnection,
    apply_connections,
    list_connections,
    load_connection,
)
from shared.logs import configure_logging, redact
from shared.secrets import SecretsError
from shared.settings import Settings

Action = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]
# Errors whose message is the whole story for the person at the terminal.
USER_ERRORS = (ConnectionFileError, ConnectionNotFoundError, MissingSecretError, SecretsError)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    apply_parser = actions.add_parser("apply", help="store the connections of a YAML file")
    apply_parser.add_argument("file", type=Path, help="the connections file (YAML)")
    apply_parser.add_argument(
        "--prune", action="store_true", help="delete stored connections the file no longer lists"
    )
    test_parser = actions.add_parser("test", help="check a connection against Coupa and Deltek")
    test_parser.add_argument("name")
    actions.add_parser("list", help="stored connections, secrets hidden")
    show_parser = actions.add_parser("show", help="one connection's settings, secrets hidden")
    show_parser.add_argument("name")


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging("connections", settings.log_level)
    return run_guarded(f"connections {args.action}", ACTIONS[args.action](args, settings))


def run_guarded(command: str, work: Coroutine[Any, Any, int]) -> int:
    """Run ``work``; a known failure becomes one clear line on stderr and exit code 2."""
    try:
        return asyncio.run(work)
    except USER_ERRORS as exc:
        say(f"connector {command}: {exc}", err=True)
    except asyncpg.UndefinedTableError:
        say(f"connector {command}: the schema is not there yet; run `connector migrate`", err=True)
    except BrokenPipeError:
        raise  # the reader of stdout went away: ``main`` ends quietly, it is no database error
    except OSError as exc:
        say(f"connector {command}: cannot reach the database: {exc}", err=True)
    return 2


def say(text: str, *, err: bool = False) -> None:
    print(redact(text), file=sys.stderr if err else sys.stdout)


async def apply(args: argparse.Namespace, settings: Settings) -> int:
    connections = load_connections(args.file, os.environ)
    ring = key_ring(settings, "connections apply")
    async with database(settings, "connections apply") as db:
        outcome = await apply_connections(db, ring, connections, prune=args.prune)
    report_apply(outcome, ring.current.key_id)
    return 0


def report_apply(outcome: ApplyOutcome, key_id: str) -> None:
    for item in outcome.applied:
        changed = f" ({', '.join(item.changed)})" if item.changed else ""
        say(f"{item.name}: {item.action}{changed}")
    for name in outcome.stale:
        if outcome.pruned:
            say(f"{name}: deleted (not in the file)")
        else:
            say(f"{name}: kept, although not in the file; apply with --prune to delete it")
    say(f"secrets encrypted under key {key_id}")


async def test(args: argparse.Namespace, settings: Settings) -> int:
    ring = key_ring(settings, "connections test")
    async with database(settings, "connections test") as db:
        connection = await load_connection(db, ring, args.name)
        coupa, deltek = connection.settings.coupa, connection.settings.deltek
        say(f"{connection.name}: Coupa at {coupa.base_url}, Vantagepoint at {deltek.base_url}")
        findings = await diagnose(connection, db)
    for finding in findings:
        say(format_finding(finding))
    say(f"{connection.name}: {summary(findings)}")
    return 1 if any(f.status == "PROBLEM" for f in findings) else 0


def format_finding(finding: Finding) -> str:
    line = f"  {finding.status:<8} {finding.check:<15} {finding.message}"
    if not finding.hint:
        return line
    # An assumption is not wrong, only unconfirmed: its hint says where to look, not what to fix.
    label = "check:" if finding.status == "ASSUMED" else "fix:"
    return f"{line}\n  {'':<8} {'':<15} {label} {finding.hint}"


def summary(findings: list[Finding]) -> str:
    """No PROBLEM means "all checks passed"; assumptions are counted, being still to confirm."""
    problems = sum(1 for f in findings if f.status == "PROBLEM")
    if problems:
        return f"{problems} problem(s)"
    assumed = sum(1 for f in findings if f.status == "ASSUMED")
    if not assumed:
        return "all checks passed"
    return (
        f"all checks passed; {assumed} setting(s) assumed, to confirm in Vantagepoint "
        "(docs/go-live-checklist.md)"
    )


async def list_(args: argparse.Namespace, settings: Settings) -> int:
    async with database(settings, "connections list") as db:
        stored = await list_connections(db)
    if not stored:
        say("no connections stored; add some with `connector connections apply FILE`")
    for item in stored:
        coupa, deltek = item.settings.coupa, item.settings.deltek
        say(
            f"{item.name}: Coupa {coupa.base_url} client {coupa.client_id}; Vantagepoint "
            f"{deltek.base_url} database {deltek.database} user {deltek.username}; "
            f"{len(item.key_ids)} secrets set; updated {item.updated_at:%Y-%m-%d %H:%M:%S %Z}"
        )
    return 0


async def show(args: argparse.Namespace, settings: Settings) -> int:
    async with database(settings, "connections show") as db:
        (item,) = await list_connections(db, args.name)
    say(yaml.safe_dump(describe(item), sort_keys=False, allow_unicode=True).rstrip())
    return 0


def describe(item: StoredConnection) -> dict[str, Any]:
    """Settings as in the file, each stored secret as ``***`` with the id of its key."""
    body: dict[str, Any] = {"name": item.name, **item.settings.model_dump(mode="json")}
    for field, key_id in item.key_ids.items():
        section, _, key = field.partition(".")
        body[section][key] = f"*** (key {key_id})"
    body["updated_at"] = item.updated_at.isoformat()
    return body


ACTIONS: dict[str, Action] = {"apply": apply, "test": test, "list": list_, "show": show}
