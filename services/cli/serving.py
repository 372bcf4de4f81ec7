"""Serving one service process from the CLI, the way every service command does."""

from __future__ import annotations

import sys

from aiohttp import web

from shared.service.app import StartupError, run_service
from shared.service.task_dump import dump_tasks_on_sigusr1


def serve(app: web.Application, command: str) -> int:
    """Serve ``app`` until stopped; a service that cannot start says why in one line (exit 2)."""
    dump_tasks_on_sigusr1(app)
    try:
        return run_service(app)
    except StartupError as exc:
        print(f"connector {command}: {exc}", file=sys.stderr)
        return 2
