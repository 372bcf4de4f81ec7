"""Server-side throttling middleware: a token bucket per simulator answering 429 when empty."""

from __future__ import annotations

import math
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from shared.http.ratelimit import TokenBucket
from simulators.common.faults import RenderError


def rate_limit_middleware(
    bucket: TokenBucket,
    render_error: RenderError,
    *,
    exempt_prefixes: Iterable[str] = (),
    send_retry_after: bool = False,
) -> Middleware:
    """Answer 429 once ``bucket`` is empty; optionally say when to come back (whole seconds)."""
    exempt = tuple(exempt_prefixes)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(exempt) or bucket.try_acquire():
            return await handler(request)
        response = render_error(request, 429, "Too Many Requests")
        if send_retry_after:
            response.headers["Retry-After"] = str(max(1, math.ceil(bucket.wait_time())))
        return response

    return middleware
