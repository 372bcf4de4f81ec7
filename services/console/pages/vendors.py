"""Vendor changes: the firm writes vendor sync holds back in preview mode, and its latest writes.

Read-only. No connection setting asks for approval of firm updates: a live connection writes
them as vendor sync decides, and a connection in ``mode: preview`` records them instead
(``would_sync``), to be written when it goes live. So there is nothing to approve here; going
live is the approval, made with ``connector connections apply``.
"""

from __future__ import annotations

from aiohttp import web

from services.console.read.vendors import RECENT_LIMIT, pending, recent
from services.console.web import render
from shared.service.app import POOL


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/vendors", show)


async def show(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        waiting, written = await pending(conn), await recent(conn)
    context = {"pending": waiting, "recent": written, "limit": RECENT_LIMIT}
    return render(request, "vendors.html", context)
