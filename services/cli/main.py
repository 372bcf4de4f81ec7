"""``connector``: the one console command, with a subcommand per job."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Callable

from aiohttp import web

from services.cli import (
    audit_cmd,
    chaos,
    connections_cmd,
    demo,
    dev,
    keys_cmd,
    mappings_cmd,
    migrate_cmd,
    reference_cmd,
    replay_cmd,
    vendors_cmd,
)
from services.sims.coupa import cli as coupa_sim
from services.sims.deltek import cli as deltek_sim
from shared.kafka.topics import ensure_pipeline_topics
from shared.logs import configure_logging
from shared.service.app import run_service
from shared.settings import Settings
from shared.stack import Endpoints, StackNotFoundError, resolve_endpoints

AppFactory = Callable[[Settings, Endpoints], web.Application]

# Default HTTP port of each service when neither --port nor CONNECTOR_HTTP_PORT says otherwise.
SERVICE_PORTS = {"ingest": 8081, "mapper": 8082, "poster": 8083}


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
    logging.getLogger(__name__).info(
        "starting", extra={"port": settings.http_port, "kafka": endpoints.kafka_bootstrap}
    )
    return run_service(_factory(args.command)(settings, endpoints))


async def topics_cmd() -> int:
    settings = Settings()
    created = await ensure_pipeline_topics(settings, resolve_endpoints(settings).kafka_bootstrap)
    print(f"topics created: {', '.join(created)}" if created else "all topics exist")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connector", description="Coupa → Deltek Vantagepoint AP invoice connector"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    migrate_parser = sub.add_parser("migrate", help="apply pending database migrations")
    migrate_parser.set_defaults(func=lambda args: asyncio.run(migrate_cmd.run()))

    for name, module, text in (
        ("dev", dev, "run the whole stack on the embedded default, until Ctrl-C"),
        ("demo", demo, "run the stack, push N approved invoices through it, verify Deltek"),
        ("chaos", chaos, "run the stack under a fault schedule, then an independent verdict"),
        ("audit", audit_cmd, "print a record's whole story"),
        ("replay", replay_cmd, "re-run records by key, time range or state"),
        ("connections", connections_cmd, "store (apply), check (test), list and show connections"),
        ("keys", keys_cmd, "generate a master key, or rotate stored secrets onto the current one"),
        ("reference", reference_cmd, "refresh a connection's Deltek reference data now"),
        ("mappings", mappings_cmd, "import, export and check explicit maps to Deltek"),
        ("vendors", vendors_cmd, "full vendor sync: every Coupa supplier to its Deltek firm"),
    ):
        command_parser = sub.add_parser(name, help=text)
        module.add_arguments(command_parser)
        command_parser.set_defaults(func=module.run)

    sim_parser = sub.add_parser("sim", help="run a simulator of Coupa or Deltek")
    systems = sim_parser.add_subparsers(dest="system", required=True, metavar="SYSTEM")
    for system, module in (("coupa", coupa_sim), ("deltek", deltek_sim)):
        system_parser = systems.add_parser(system, help=f"the {system.title()} API simulator")
        module.add_arguments(system_parser)
        system_parser.set_defaults(func=module.run)

    topics_parser = sub.add_parser("topics", help="create the pipeline topics that are missing")
    topics_parser.set_defaults(func=lambda args: asyncio.run(topics_cmd()))

    for service, port in SERVICE_PORTS.items():
        service_parser = sub.add_parser(service, help=f"run the {service} service")
        service_parser.add_argument(
            "--port", type=int, default=None, help=f"HTTP port (default {port})"
        )
        service_parser.set_defaults(func=_run_service)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
