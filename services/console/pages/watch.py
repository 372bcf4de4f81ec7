"""Watching records go: the page a fix or a replay leads to, refreshed until they settle.

It refreshes itself (a ``<meta>`` refresh: no script needed) while any record is still on its way,
for at most ``WATCH_SECONDS`` after the action, so a record that stays parked for another reason
does not keep the page reloading for ever.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from aiohttp import web

from services.console.read.records import followed
from services.console.web import render
from shared.service.app import POOL

# Most records one watch page lists; a fix or replay of more shows the first ones.
WATCH_LIMIT = 50
WATCH_SECONDS = 120.0
# Still on its way: the page keeps refreshing while any record is in one of these.
MOVING = ("received", "mapped", "posting", "parked")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/watch", show)


def watch_url(record_keys: list[str], note: str) -> str:
    """Where to follow ``record_keys`` after an action described by ``note``."""
    query = [("key", key) for key in record_keys[:WATCH_LIMIT]]
    query += [("note", note), ("since", str(int(time.time())))]
    return "/watch?" + urlencode(query)


def going_on(count: int) -> str:
    """What a fix or replay set going, in words: "2 invoices go on." """
    if count == 0:
        return "no invoice was waiting for it."
    return "1 invoice goes on." if count == 1 else f"{count} invoices go on."


async def show(request: web.Request) -> web.Response:
    keys = request.query.getall("key", [])[:WATCH_LIMIT]
    async with request.app[POOL].acquire() as conn:
        rows = await followed(conn, keys)
    try:
        since = float(request.query.get("since", "0"))
    except ValueError:
        since = 0.0
    moving = any(row.state in MOVING for row in rows)
    return render(
        request,
        "watch.html",
        {
            "rows": rows,
            "note": request.query.get("note", ""),
            "refresh": moving and time.time() - since < WATCH_SECONDS,
        },
    )
