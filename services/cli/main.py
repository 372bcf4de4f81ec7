"""``connector``: the one console command, with a subcommand per job."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, cast

from aiohttp import web
from aiokafka.errors import KafkaConnectionError

from services.cli import (
    audit_cmd,
    connections_cmd,
    console_cmd,
    keys_cmd,
    mappings_cmd,
    migrate_cmd,
    preview_cmd,
    reconcile_cmd,
    reference_cmd,
    replay_cmd,
    vendors_cmd,
)
from services.cli.dev_key import with_dev_key
from services.cli.serving import serve
from shared.endpoints import Endpoints, StackNotFoundError, resolve_endpoints
from shared.kafka.topics import ensure_pipeline_topics
from shared.logs import configure_logging
from shared.service.app import broker_unreachable
from shared.settings import Settings

AppFactory = Callable[[Settings, Endpoints], web.Application]


class CommandModule(Protocol):
    """A subcommand's module: it declares its flags and runs with the parsed arguments."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# Commands of the local harness, loaded only where it is installed: the production image ships
# the services and the operations commands, not the dev stack or the simulators.
HARNESS_COMMANDS = (
    ("dev", "devstack.dev", "run the whole stack on the embedded default, until Ctrl-C"),
    ("demo", "devstack.demo", "run the stack, push N approved invoices through it, verify Deltek"),
    (
        "chaos",
        "devstack.chaos",
        "run the stack under a fault schedule, then an independent verdict",
    ),
)
SIMULATORS = (("coupa", "simulators.coupa.cli"), ("deltek", "simulators.deltek.cli"))

# Default HTTP port of each service when neither --port nor CONNECTOR_HTTP_PORT says otherwise.
SERVICE_PORTS = {"ingest": 8081, "mapper": 8082, "poster": 8083}
# Commands that run until stopped, or start processes that do: they log at INFO (the level a
# service keeps); every other command answers on stdout and logs warnings only unless asked.
RUNNING_COMMANDS = frozenset(
    {*SERVICE_PORTS, "console", "sim", *(name for name, _, _ in HARNESS_COMMANDS)}
)
LOG_LEVEL_VARIABLE = "CONNECTOR_LOG_LEVEL"
# How a command ends when whoever read its output stopped reading (see ``_reader_gone``).
SIGPIPE_EXIT = 128 + signal.SIGPIPE


def _optional(module: str) -> CommandModule | None:
    """The harness module named, or None where the package is not installed."""
    if importlib.util.find_spec(module.split(".")[0]) is None:
        return None
    return cast(CommandModule, importlib.import_module(module))


def _factory(service: str) -> AppFactory:
    # Imported on demand: each process loads only the service it runs.
    factory: AppFactory = importlib.import_module(f"services.{service}.app").create_app
    return factory


def _run_service(args: argparse.Namespace) -> int:
    overrides = {"http_port": args.port} if args.port else {}
    settings = Settings(**overrides)
    if "http_port" not in settings.model_fields_set:
        settings = settings.model_copy(update={"http_port": SERVICE_PORTS[args.command]})
    configure_logging(args.command, settings.log_level)
    try:
        endpoints = resolve_endpoints(settings)
    except StackNotFoundError as exc:
        print(f"connector {args.command}: {exc}", file=sys.stderr)
        return 2
    # Started by hand beside `connector dev`: its key too, as the supervisor gives its services.
    settings = with_dev_key(settings, args.command)
    logging.getLogger(__name__).info(
        "starting", extra={"port": settings.http_port, "kafka": endpoints.kafka_bootstrap}
    )
    app = _factory(args.command)(settings, endpoints)
    return serve(app, args.command)


async def topics_cmd() -> int:
    settings = Settings()
    try:
        bootstrap = resolve_endpoints(settings).kafka_bootstrap
    except StackNotFoundError as exc:
        print(f"connector topics: {exc}", file=sys.stderr)
        return 2
    try:
        created = await ensure_pipeline_topics(settings, bootstrap)
    except KafkaConnectionError:
        print(f"connector topics: {broker_unreachable(bootstrap)}", file=sys.stderr)
        return 2
    print(f"topics created: {', '.join(created)}" if created else "all topics exist")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connector", description="Coupa → Deltek Vantagepoint AP invoice connector"
    )
    _add_verbose_flag(parser, default=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    migrate_parser = sub.add_parser("migrate", help="apply pending database migrations")
    _add_verbose_flag(migrate_parser)
    migrate_parser.set_defaults(func=lambda args: asyncio.run(migrate_cmd.run()))

    for name, dotted, text in HARNESS_COMMANDS:
        if (harness := _optional(dotted)) is not None:
            _add_command(sub, name, harness, text)
    commands: tuple[tuple[str, CommandModule, str], ...] = (
        ("audit", audit_cmd, "print a record's whole story"),
        ("console", console_cmd, "the operator console (web pages), and its users"),
        ("replay", replay_cmd, "re-run records by key, time range or state"),
        ("connections", connections_cmd, "store (apply), check (test), list and show connections"),
        ("keys", keys_cmd, "master keys (generate, rotate) and Call Out secrets (callout-secret)"),
        ("reference", reference_cmd, "refresh a connection's Deltek reference data now"),
        ("mappings", mappings_cmd, "import, export and check explicit maps to Deltek"),
        ("vendors", vendors_cmd, "full vendor sync: every Coupa supplier to its Deltek firm"),
        ("preview", preview_cmd, "what going live would do, read from Coupa and Deltek only"),
        ("reconcile", reconcile_cmd, "a period's Coupa invoices against Deltek's AP, classified"),
    )
    for name, module, text in commands:
        _add_command(sub, name, module, text)

    simulators = [(system, sim) for system, dotted in SIMULATORS if (sim := _optional(dotted))]
    if simulators:
        sim_parser = sub.add_parser("sim", help="run a simulator of Coupa or Deltek")
        systems = sim_parser.add_subparsers(dest="system", required=True, metavar="SYSTEM")
        for system, sim in simulators:
            _add_command(systems, system, sim, f"the {system.title()} API simulator")

    topics_parser = sub.add_parser("topics", help="create the pipeline topics that are missing")
    _add_verbose_flag(topics_parser)
    topics_parser.set_defaults(func=lambda args: asyncio.run(topics_cmd()))

    for service, port in SERVICE_PORTS.items():
        service_parser = sub.add_parser(service, help=f"run the {service} service")
        service_parser.add_argument(
            "--port", type=int, default=None, help=f"HTTP port (default {port})"
        )
        service_parser.set_defaults(func=_run_service)
    return parser


def _add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    module: CommandModule,
    text: str,
) -> None:
    command_parser = sub.add_parser(name, help=text)
    if name not in RUNNING_COMMANDS:
        _add_verbose_flag(command_parser)
    module.add_arguments(command_parser)
    command_parser.set_defaults(func=module.run)


def _add_verbose_flag(parser: argparse.ArgumentParser, default: object = argparse.SUPPRESS) -> None:
    """``-v``, before or after the command's name; a command's own default is SUPPRESS, so that
    it does not undo ``connector -v COMMAND``."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help=f"log INFO lines on stderr (else only warnings, unless ${LOG_LEVEL_VARIABLE} is set)",
    )


@contextmanager
def command_log_level(args: argparse.Namespace) -> Iterator[None]:
    """The log level a short command runs with: WARNING, INFO with ``-v``, else what
    ``CONNECTOR_LOG_LEVEL`` says; services keep theirs (INFO).

    Set as the variable every command's settings already read, for the command's duration
    only, so no command needs code of its own and the caller's environment is left as it was.
    """
    chosen = os.environ.get(LOG_LEVEL_VARIABLE)
    if args.command in RUNNING_COMMANDS or (chosen and not args.verbose):
        yield
        return
    os.environ[LOG_LEVEL_VARIABLE] = "INFO" if args.verbose else "WARNING"
    try:
        yield
    finally:
        if chosen is None:
            del os.environ[LOG_LEVEL_VARIABLE]
        else:
            os.environ[LOG_LEVEL_VARIABLE] = chosen


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            args = build_parser().parse_args(argv)
            with command_log_level(args):
                code: int = args.func(args)
        finally:
            # Flushed here, not at exit (``--help`` exits through SystemExit), so a reader
            # gone early shows up below and not as an error the interpreter prints on its way.
            sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    return code


def _reader_gone() -> int:
    """``connector ... | head`` ends quietly once ``head`` has read enough.

    What is still buffered can go nowhere: stdout is pointed at /dev/null so that the
    interpreter's last flush finds nothing to complain about. The exit code is 141 (128 +
    SIGPIPE), what ``yes | head`` leaves too: a shell ignores it unless ``pipefail`` is set,
    and a script that sets it learns that not all the output was read, as with any other tool.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return SIGPIPE_EXIT


if __name__ == "__main__":
    sys.exit(main())
