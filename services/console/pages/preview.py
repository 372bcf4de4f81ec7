"""Go-live preview: ``connector preview`` run from the console, and its reports served.

The console runs the command itself, as a child process (``python -m services.cli preview``),
rather than its plan: the plan uses the mapper's rules and the poster's voucher builder, which
the console may not import (each service stands alone, see pyproject's import contracts), and
the command is what a person would run, so both give the same report. It writes into the
state folder (``read/preview_runs.py``), one report per connection, the last one kept.

An operator may start one (reads only, but it walks every approved invoice and supplier in
both systems); everyone signed in may read the reports. The report page is the CLI's own,
autoescaped, served under the console's content policy, so nothing in it can run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from services.console.read.preview_runs import (
    LOG_FILE,
    SERVED,
    PreviewRun,
    folder,
    read_run,
    write_run,
)
from services.console.users import Role
from services.console.web import actor, needs, refuse, render, see_other, user_of
from shared.connections.store import list_connections
from shared.records import append_audit
from shared.service.app import ENDPOINTS, POOL, SETTINGS

log = logging.getLogger(__name__)

# Running previews, held so the event loop does not drop them half-way.
_RUNNING: set[asyncio.Task[None]] = set()


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/preview", show)
    router.add_post("/preview/{name}", start)
    router.add_get("/preview/{name}/{file}", report_file)


async def show(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    async with request.app[POOL].acquire() as conn:
        names = [stored.name for stored in await list_connections(conn)]
    runs: dict[str, PreviewRun | None] = {n: read_run(settings.state_dir, n) for n in names}
    context = {
        "runs": runs,
        "has_key": settings.master_key is not None,
        "refresh": any(run is not None and run.running for run in runs.values()),
    }
    return render(request, "preview.html", context)


@needs(Role.OPERATOR)
async def start(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    settings = request.app[SETTINGS]
    if settings.master_key is None:
        return refuse(
            request,
            "The console has no master key (CONNECTOR_MASTER_KEY), so the preview cannot open "
            "the connection's credentials.",
            status=503,
        )
    async with request.app[POOL].acquire() as conn:
        if not await list_connections(conn, name):
            return refuse(request, f"There is no connection {name}.", status=404)
        current = read_run(settings.state_dir, name)
        if current is not None and current.running:
            return refuse(request, f"A preview of {name} is running already.", status=409)
        out = folder(settings.state_dir, name)
        out.mkdir(parents=True, exist_ok=True)
        user = user_of(request).name
        process = await _spawn(request, name, out)
        run = {"by": user, "started_at": datetime.now(UTC).isoformat(), "pid": process.pid}
        write_run(out, run)
        await append_audit(
            conn,
            record_key=f"{name}:connection:settings",
            service=actor(request),
            event="preview_started",
            details={"user": user},
        )
    task = asyncio.create_task(_finish(process, out, run))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    log.info("preview started", extra={"user": user, "connection": name})
    return see_other("/preview")


async def _spawn(request: web.Request, name: str, out: Path) -> asyncio.subprocess.Process:
    """``connector preview NAME`` with this console's database and master key."""
    settings = request.app[SETTINGS]
    env = {**os.environ, "CONNECTOR_DATABASE_URL": request.app[ENDPOINTS].database_url}
    if settings.master_key is not None:
        env["CONNECTOR_MASTER_KEY"] = settings.master_key.get_secret_value()
    if settings.master_key_previous is not None:
        env["CONNECTOR_MASTER_KEY_PREVIOUS"] = settings.master_key_previous.get_secret_value()
    argv = ["-m", "services.cli", "preview", name, "--out", str(out), "--quiet"]
    with (out / LOG_FILE).open("wb") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable, *argv, stdout=output, stderr=asyncio.subprocess.STDOUT, env=env
        )


async def _finish(process: asyncio.subprocess.Process, out: Path, run: dict[str, object]) -> None:
    code = await process.wait()
    write_run(out, {**run, "exit_code": code, "finished_at": datetime.now(UTC).isoformat()})


async def report_file(request: web.Request) -> web.StreamResponse:
    name, file = request.match_info["name"], request.match_info["file"]
    base = Path(request.app[SETTINGS].state_dir) / "preview"
    path = folder(request.app[SETTINGS].state_dir, name) / file
    # A name like ``..`` must not leave the preview folder: only plain names are served.
    if not SERVED.fullmatch(file) or path.resolve().parent.parent != base.resolve():
        return refuse(request, "There is no such report file.", status=404)
    if not path.is_file():
        return refuse(request, f"No preview of {name} has been made yet.", status=404)
    return web.FileResponse(path)
