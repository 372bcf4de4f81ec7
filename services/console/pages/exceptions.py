"""The exception queue, and fixing a group in place with one map.

A fix goes the way the mappings page goes (``mapping_changes.set_maps``): the map is written and
the mapper notified in one transaction, with a ``mapping_set`` audit event on each record waiting
for it and a ``mappings_set`` event on the maps' own trail, both naming who set it; the mapper's
resume loop sends the records on, and the console shows them go (``watch.py``).
"""

from __future__ import annotations

import logging

from aiohttp import web

from services.console.mapping_changes import set_maps
from services.console.pages.watch import going_on, watch_url
from services.console.read.exceptions import (
    MAP_KIND_FOR,
    Choice,
    choices,
    reason_groups,
    subject_of,
    waiting_groups,
)
from services.console.users import Role
from services.console.web import actor, needs, refuse, render, see_other, user_of
from shared.db.pool import Connection
from shared.service.app import POOL

log = logging.getLogger(__name__)

# What a map of each kind points at, in Deltek's words.
TARGET_NAMES = {"supplier": "vendor", "account": "GL account", "project": "project (WBS1)"}
# Beside each fix field: what to type, and that the list searches by name too.
HINTS = {
    "supplier": "Deltek vendor number; type a name to search",
    "account": "Deltek GL account number; type a name to search",
    "project": "Deltek project number (WBS1); type a name to search",
}


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
            "hints": HINTS,
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
                f"{deltek_value or 'Nothing'} is not a usable Deltek {TARGET_NAMES[map_kind]} "
                f"of {connection}; pick one from the list."
            )
            return await _page(request, conn, error=error, status=400)
        subject = await subject_of(conn, connection, kind, coupa_value)
        change = await set_maps(
            conn,
            connection,
            map_kind,
            [(coupa_value, deltek_value)],
            by=actor(request),
            user=user_of(request).name,
        )
    log.info(
        "mapping set",
        extra={
            "user": user_of(request).name,
            "connection": connection,
            "kind": map_kind,
            "coupa_value": coupa_value,
            "deltek_value": deltek_value,
            "records": len(change.resumed),
        },
    )
    note = (
        f"{subject} of {connection} now maps to Deltek {TARGET_NAMES[map_kind]} {deltek_value}; "
        f"{going_on(len(change.resumed))}"
    )
    return see_other(watch_url(change.resumed, note))
