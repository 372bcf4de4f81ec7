"""Every API request a simulator answered: the recent ones in full, all of them counted.

Tests and the go-live preview prove what the connector did to a system from this log, not from
the connector's own bookkeeping: e.g. "no request but reads and token requests" for a preview.
``GET /_admin/requests`` answers ``{"entries": [...recent...], "counts": {"GET /api/x": n}}``;
admin routes are neither logged nor counted.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler


class RequestLog:
    """The last ``size`` requests (headers without Authorization) and a count of every one."""

    def __init__(self, size: int = 1000) -> None:
        self.entries: deque[dict[str, Any]] = deque(maxlen=size)
        self.counts: Counter[str] = Counter()


REQUEST_LOG_KEY = web.AppKey("sim_request_log", RequestLog)


@web.middleware
async def record_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log and count each API request with the status it got."""
    if request.path.startswith("/_admin"):
        return await handler(request)
    headers = {str(k): v for k, v in request.headers.items() if k.lower() != "authorization"}
    entry: dict[str, Any] = {"method": request.method, "path": request.path, "headers": headers}
    entry["query"] = request.query_string
    log = request.app[REQUEST_LOG_KEY]
    log.entries.append(entry)
    log.counts[f"{request.method} {request.path}"] += 1
    response = await handler(request)
    entry["status"] = response.status
    return response


async def requests_log(request: web.Request) -> web.Response:
    log = request.app[REQUEST_LOG_KEY]
    body = {"entries": list(log.entries), "counts": dict(log.counts)}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def add_request_log(app: web.Application) -> None:
    """The log and its admin route on ``app``, whose middlewares start with ``record_requests``
    (first, so that requests refused by later middlewares are counted too)."""
    app[REQUEST_LOG_KEY] = RequestLog()
    app.router.add_get("/_admin/requests", requests_log)
