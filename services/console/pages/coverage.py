"""Coverage: which Coupa suppliers, accounts and projects seen in records lack a usable map, and
how many invoices each holds up (``connector mappings check`` as a page)."""

from __future__ import annotations

from aiohttp import web

from services.console.read.coverage import GAP_KINDS, coverage_of
from services.console.read.mappings import connection_names
from services.console.web import refuse, render
from shared.service.app import POOL


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/mappings/coverage", show)


async def show(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        names = await connection_names(conn)
        wanted = request.query.get("connection", "").strip() or (names[0] if names else "")
        if wanted and wanted not in names:
            return refuse(request, f"No connection is called {wanted}.", status=404)
        report = await coverage_of(conn, wanted) if wanted else None
    return render(
        request,
        "coverage.html",
        {"names": names, "connection": wanted, "report": report, "gap_kinds": GAP_KINDS},
    )
