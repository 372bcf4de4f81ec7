"""The overview: one panel per connection with its counts, its oldest parked record and health."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from services.console.read.overview import overview
from services.console.web import render
from shared.service.app import POOL


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", show)


async def show(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        connections = await overview(conn)
    return render(request, "overview.html", {"connections": connections, "now": datetime.now(UTC)})
