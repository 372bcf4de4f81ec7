"""Replay from the console: the records picked, what would be sent for each (the dry run),
and, once confirmed, the sending; both through ``shared.replay`` as ``connector replay`` does.
Records are picked on the Records page or by a filter here (``replay_filter.py``)."""

from __future__ import annotations

import logging

from aiohttp import web

from services.console.pages.replay_filter import by_filter
from services.console.pages.watch import WATCH_LIMIT, watch_url
from services.console.users import Role
from services.console.web import actor, needs, refuse, render, see_other, user_of
from shared.db.pool import Connection
from shared.kafka.topics import Topics
from shared.replay import Replay, Selection, plan, select, send
from shared.service.app import POOL, PUBLISHER, SETTINGS

log = logging.getLogger(__name__)

# Most records one replay takes from the console; more is a job for `connector replay`.
REPLAY_LIMIT = WATCH_LIMIT


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/replay", dry_run)
    router.add_post("/replay", confirm)


async def _planned(request: web.Request, conn: Connection, keys: list[str]) -> list[Replay]:
    rows = []
    for key in dict.fromkeys(keys):
        rows += await select(conn, Selection(record_key=key))
    return plan(rows, Topics(request.app[SETTINGS].kafka.topic_prefix))


def _keys(values: list[str]) -> list[str]:
    return [key for key in dict.fromkeys(v.strip() for v in values) if key]


async def dry_run(request: web.Request) -> web.Response:
    keys = _keys(request.query.getall("key", []))
    if not keys:
        return await by_filter(request)
    if len(keys) > REPLAY_LIMIT:
        return refuse(
            request,
            f"The console replays at most {REPLAY_LIMIT} records at once; "
            "use `connector replay` for more.",
            status=400,
        )
    async with request.app[POOL].acquire() as conn:
        replays = await _planned(request, conn, keys)
    found = {replay.record_key for replay in replays}
    return render(
        request,
        "replay.html",
        {"replays": replays, "missing": [k for k in keys if k not in found]},
    )


@needs(Role.OPERATOR)
async def confirm(request: web.Request) -> web.Response:
    form = await request.post()
    keys = _keys([str(value) for value in form.getall("key", [])])[:REPLAY_LIMIT]
    async with request.app[POOL].acquire() as conn:
        replays = await _planned(request, conn, keys)
        await send(conn, request.app[PUBLISHER], replays, by=actor(request))
    log.info(
        "replayed",
        extra={"user": user_of(request).name, "records": [r.record_key for r in replays]},
    )
    note = f"{len(replays)} record(s) replayed."
    return see_other(watch_url(keys, note))
