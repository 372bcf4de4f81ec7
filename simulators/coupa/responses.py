"""How the simulator answers: JSON only for ``Accept: application/json``, else XML (§2, §3.6)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from simulators.coupa.options import CoupaSimOptions
from simulators.coupa.xmlrender import ROOTS, render_errors, render_list, render_record

OPTIONS_KEY = web.AppKey("coupa_options", CoupaSimOptions)
NO_RESULTS = "No results match your search criteria."


def wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "").lower()


def resource_of(path: str) -> str | None:
    """``/api/invoices/5`` → ``invoices``; None outside the known resources."""
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "api" and parts[1] in ROOTS:
        return parts[1]
    return None


def render_error(request: web.Request, status: int, message: str) -> web.Response:
    """Coupa's error envelope: ``{"errors": {"<resource>": [msg]}}`` or ``<errors>`` (§6)."""
    if not wants_json(request):
        return web.Response(status=status, body=render_errors([message]), content_type="text/xml")
    resource = resource_of(request.path)
    key = ROOTS[resource][1] if resource else "base"
    body = orjson.dumps({"errors": {key: [message]}})
    return web.Response(status=status, body=body, content_type="application/json")


def render_ok(request: web.Request, resource: str, payload: Any) -> web.Response:
    """A record (dict) or a list of records in the format the client asked for."""
    if wants_json(request):
        return web.Response(body=orjson.dumps(payload), content_type="application/json")
    if request.app[OPTIONS_KEY].non_json_accept == "406":
        return render_error(request, 406, "Only application/json is served")
    if isinstance(payload, list):
        if not payload:
            # XML says "no results" with a 404 where JSON answers [] (coupa-api.md §3.2, XJ).
            return render_error(request, 404, NO_RESULTS)
        return web.Response(body=render_list(resource, payload), content_type="application/xml")
    return web.Response(body=render_record(resource, payload), content_type="application/xml")
