"""Mappings: the maps of each connection and kind, set one by hand, imported and exported as CSV.

Import and export are ``connector mappings import|export`` on a page: the same file format
(``shared.mappings_csv``), checked whole first so a file with any problem changes nothing, and
the same write (``set_maps`` over ``upsert_mappings``), which resumes the records waiting for a
map. Like the CLI, the console adds and changes maps but never deletes one: the mapper would
only park the next invoice that needs it, and nothing posted is undone.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlencode

from aiohttp import web

from services.console.mapping_changes import MapChange, set_maps
from services.console.pages.exceptions import TARGET_NAMES
from services.console.pages.watch import watch_url
from services.console.read.exceptions import choices
from services.console.read.mappings import MAPS_LIMIT, connection_names, list_maps
from services.console.users import Role
from services.console.web import actor, needs, refuse, render, see_other, user_of
from shared.db.pool import Connection
from shared.mappings import read_mappings
from shared.mappings_csv import KINDS, MappingFileError, is_known, parse_csv, to_csv
from shared.reference.cache import load_reference
from shared.service.app import POOL

log = logging.getLogger(__name__)

# Most values a note names that are not in the Deltek cache; the rest are counted.
UNKNOWN_NAMED = 10


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/mappings", show)
    router.add_post("/mappings", edit)
    router.add_post("/mappings/import", import_file)
    router.add_get("/mappings/export", export)


def mappings_url(connection: str, kind_name: str, **more: str) -> str:
    return "/mappings?" + urlencode({"connection": connection, "kind": kind_name, **more})


async def _chosen(
    conn: Connection, values: dict[str, str]
) -> tuple[list[str], str, str] | web.HTTPException:
    """The known connections, and the connection and kind ``values`` name (defaults: the
    first connection, suppliers), or why they cannot be used."""
    names = await connection_names(conn)
    connection = values.get("connection", "").strip() or (names[0] if names else "")
    kind_name = values.get("kind", "").strip() or "suppliers"
    if kind_name not in KINDS:
        return web.HTTPBadRequest(text=f"No kind of map is called {kind_name}.")
    if connection and connection not in names:
        return web.HTTPNotFound(text=f"No connection is called {connection}.")
    return names, connection, kind_name


async def _page(
    request: web.Request,
    conn: Connection,
    values: dict[str, str],
    *,
    problems: list[str] | None = None,
    status: int = 200,
) -> web.Response:
    chosen = await _chosen(conn, values)
    if isinstance(chosen, web.HTTPException):
        return refuse(request, chosen.text or "", status=chosen.status)
    names, connection, kind_name = chosen
    map_kind = KINDS[kind_name]
    contains = request.query.get("q", "").strip()
    may_edit = user_of(request).may(Role.OPERATOR)
    return render(
        request,
        "mappings.html",
        {
            "names": names,
            "connection": connection,
            "kind_name": kind_name,
            "kinds": KINDS,
            "target_name": TARGET_NAMES[map_kind],
            "maps": await list_maps(conn, connection, map_kind, contains) if connection else None,
            "limit": MAPS_LIMIT,
            "contains": contains,
            "options": await choices(conn, connection, map_kind) if may_edit else [],
            "may_edit": may_edit,
            "note": request.query.get("note", ""),
            "prefill": request.query.get("coupa_value", ""),
            "problems": problems or [],
        },
        status=status,
    )


async def show(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        return await _page(request, conn, dict(request.query))


async def export(request: web.Request) -> web.StreamResponse:
    """The maps as the CSV file ``mappings import`` (and this page's import) takes back."""
    async with request.app[POOL].acquire() as conn:
        chosen = await _chosen(conn, dict(request.query))
        if isinstance(chosen, web.HTTPException):
            return refuse(request, chosen.text or "", status=chosen.status)
        _, connection, kind_name = chosen
        rows = await read_mappings(conn, connection, KINDS[kind_name])
    filename = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{connection}-{kind_name}.csv")
    return web.Response(
        text=to_csv(rows),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@needs(Role.OPERATOR)
async def edit(request: web.Request) -> web.Response:
    """Set one map: a new one, or a new Deltek value for a Coupa value already mapped."""
    form = {name: str(value).strip() for name, value in (await request.post()).items()}
    coupa_value, deltek_value = form.get("coupa_value", ""), form.get("deltek_value", "")
    async with request.app[POOL].acquire() as conn:
        if not coupa_value or not deltek_value:
            problem = "Give both the Coupa value and the Deltek value."
            return await _page(request, conn, form, problems=[problem], status=400)
        return await _apply(request, conn, form, [(coupa_value, deltek_value)])


@needs(Role.OPERATOR)
async def import_file(request: web.Request) -> web.Response:
    """Import a maps file: every line checked first, then all of it or nothing."""
    form = await request.post()
    values = {name: str(form.get(name, "")) for name in ("connection", "kind")}
    upload = form.get("file")
    async with request.app[POOL].acquire() as conn:
        if not isinstance(upload, web.FileField) or not upload.filename:
            problems = ["Choose a CSV file to import."]
            return await _page(request, conn, values, problems=problems, status=400)
        try:
            rows = parse_csv(upload.file.read().decode("utf-8"))
        except UnicodeDecodeError:
            problems = [f"{upload.filename} is not UTF-8 text; nothing was imported."]
            return await _page(request, conn, values, problems=problems, status=400)
        except MappingFileError as exc:
            problems = [f"{upload.filename} was not imported:", *exc.problems]
            return await _page(request, conn, values, problems=problems, status=400)
        return await _apply(request, conn, values, rows)


async def _apply(
    request: web.Request, conn: Connection, values: dict[str, str], rows: list[tuple[str, str]]
) -> web.Response:
    if not all(values.get(name, "").strip() for name in ("connection", "kind")):
        return refuse(request, "Say which connection and kind of map this is for.", status=400)
    chosen = await _chosen(conn, values)
    if isinstance(chosen, web.HTTPException):
        return refuse(request, chosen.text or "", status=chosen.status)
    _, connection, kind_name = chosen
    map_kind = KINDS[kind_name]
    user = user_of(request).name
    change = await set_maps(conn, connection, map_kind, rows, by=actor(request), user=user)
    note = change.summary(connection, kind_name) + await _unknown_note(
        conn, connection, map_kind, rows
    )
    _log(user, connection, map_kind, change)
    if change.resumed:
        return see_other(watch_url(change.resumed, note))
    return see_other(mappings_url(connection, kind_name, note=note))


async def _unknown_note(
    conn: Connection, connection: str, map_kind: str, rows: list[tuple[str, str]]
) -> str:
    """The warning ``mappings import`` prints for Deltek values not in the cache, or ''."""
    ref = await load_reference(conn, connection)
    unknown = [
        f"{deltek} (for {coupa})" for coupa, deltek in rows if not is_known(ref, map_kind, deltek)
    ]
    if not unknown:
        return ""
    named = ", ".join(unknown[:UNKNOWN_NAMED])
    more = f" and {len(unknown) - UNKNOWN_NAMED} more" if len(unknown) > UNKNOWN_NAMED else ""
    return (
        f" Not in the Deltek {TARGET_NAMES[map_kind]} cache (set anyway, the cache may be "
        f"older than the map): {named}{more}."
    )


def _log(user: str, connection: str, map_kind: str, change: MapChange) -> None:
    log.info(
        "mappings set",
        extra={
            "user": user,
            "connection": connection,
            "kind": map_kind,
            "added": change.counts.added,
            "changed": change.counts.changed,
            "unchanged": change.counts.unchanged,
            "records": len(change.resumed),
        },
    )
