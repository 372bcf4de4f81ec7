"""The exception queue, and fixing a group in place with one map.

A fix goes the way ``connector mappings import`` goes: ``upsert_mappings`` writes the map and
notifies the mapper in the same transaction, and the mapper's resume loop sends every record
waiting on it on. The console only adds an audit event to each of those records, naming who set
the map, and then shows them go (``watch.py``).
"""

from __future__ import annotations

import logging

from aiohttp import web

from services.console.pages.watch import watch_url
from services.console.read.exceptions import (
    MAP_KIND_FOR,
    Choice,
    choices,
    reason_groups,
    waiting_for,
    waiting_groups,
)
from services.console.users import Role
from services.console.web import actor, needs, refuse, render, see_other, user_of
from shared.db.pool import Connection
from shared.mappings import upsert_mappings
from shared.records import append_audit
from shared.service.app import POOL

log = logging.getLogger(__name__)

# What a map of each kind points at, in Deltek's words.
TARGET_NAMES = {"supplier": "vendor", "account": "GL account", "project": "project (WBS1)"}


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/exceptions", show)
    router.add_post("/exceptions/fix", fix)


async def _page(
    request: web.Request, conn: Connection, *, error: str = "", status: int = 200
) -> web.Response:
    groups = await waiting_groups(conn)
    options: dict[tuple[str, str], list[Choice]] = {}
    if user_of(request).may(Role.OPERATOR):
        for group in groups:
            wanted = (group.connection, group.map_kind or "")
            if group.map_kind and wanted not in options:
                options[wanted] = await choices(conn, group.connection, group.map_kind)
    return render(
        request,
        "exceptions.html",
        {
            "groups": groups,
            "reasons": await reason_groups(conn),
            "options": options,
            "target_names": TARGET_NAMES,
            "error": error,
        },
        status=status,
    )


async def show(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        return await _page(request, conn)


@needs(Role.OPERATOR)
async def fix(request: web.Request) -> web.Response:
    form = await request.post()
    connection, kind, coupa_value, deltek_value = (
        str(form.get(name, "")).strip()
        for name in ("connection", "kind", "coupa_value", "deltek_value")
    )
    map_kind = MAP_KIND_FOR.get(kind)
    if map_kind is None or not connection or not coupa_value:
        return refuse(request, "A map cannot fix this kind of exception.", status=400)
    async with request.app[POOL].acquire() as conn:
        allowed = {choice.value for choice in await choices(conn, connection, map_kind)}
        if deltek_value not in allowed:
            error = (
                f"{deltek_value or 'Nothing'} is not a usable Deltek {map_kind} of {connection}; "
                "pick one from the list."
            )
            return await _page(request, conn, error=error, status=400)
        waiting = await waiting_for(conn, connection, kind, coupa_value)
        by = actor(request)
        async with conn.transaction():
            await upsert_mappings(
                conn, connection, map_kind, [(coupa_value, deltek_value)], source=by
            )
            for record_id, record_key in waiting:
                await append_audit(
                    conn,
                    record_key=record_key,
                    record_id=record_id,
                    service=by,
                    event="mapping_set",
                    details={
                        "kind": map_kind,
                        "coupa_value": coupa_value,
                        "deltek_value": deltek_value,
                        "user": user_of(request).name,
                    },
                )
    log.info(
        "mapping set",
        extra={
            "user": user_of(request).name,
            "connection": connection,
            "kind": map_kind,
            "coupa_value": coupa_value,
            "deltek_value": deltek_value,
            "records": len(waiting),
        },
    )
    note = (
        f"Coupa {map_kind} {coupa_value} of {connection} now maps to Deltek "
        f"{TARGET_NAMES[map_kind]} {deltek_value}; "
        f"{len(waiting)} waiting record(s) go on."
    )
    return see_other(watch_url([key for _, key in waiting], note))
