"""Builds the Coupa simulator's aiohttp application from CoupaSimOptions."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import formatdate

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from shared.http.ratelimit import TokenBucket
from shared.logs import register_secret
from simulators.common.faults import FaultInjector, add_fault_routes, fault_middleware
from simulators.common.ratelimit import rate_limit_middleware
from simulators.common.requests import add_request_log, record_requests
from simulators.coupa.admin import (
    PUSHER_KEY,
    add_admin_routes,
    admin_errors,
)
from simulators.coupa.api import STORE_KEY, TOKENS_KEY, add_api_routes, auth_middleware
from simulators.coupa.auth import TokenIssuer
from simulators.coupa.callouts import CalloutPusher
from simulators.coupa.options import CoupaSimOptions
from simulators.coupa.responses import OPTIONS_KEY, render_error
from simulators.coupa.store import CoupaStore

ADMIN = "/_admin"


def _skewed_date(
    seconds: float,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """Stamp answers with a ``Date`` that is ``seconds`` off, before aiohttp adds the true one."""

    async def stamp(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers[hdrs.DATE] = formatdate(time.time() + seconds, usegmt=True)

    return stamp


def create_app(options: CoupaSimOptions | None = None) -> web.Application:
    """A ready-to-serve simulator; with no options: any credentials, seeded data, 25/s limit."""
    options = options or CoupaSimOptions()
    for secret in (options.client_secret, options.callout.secret, options.callout.client_secret):
        register_secret(secret)
    injector = FaultInjector(options.faults)
    middlewares: list[Middleware] = [record_requests, admin_errors]
    if options.rate_limit:
        bucket = TokenBucket(options.rate, options.burst)
        middlewares.append(
            rate_limit_middleware(
                bucket,
                render_error,
                exempt_prefixes=(ADMIN,),
                send_retry_after=options.send_retry_after,
            )
        )
    # The token endpoint stays outside the fault plan so a client can always recover.
    middlewares += [fault_middleware(injector, render_error, (ADMIN, "/oauth2")), auth_middleware]
    app = web.Application(middlewares=middlewares)
    app[OPTIONS_KEY] = options
    app[STORE_KEY] = store = CoupaStore(options)
    app[TOKENS_KEY] = TokenIssuer(options)
    app[PUSHER_KEY] = pusher = CalloutPusher(options.callout)
    add_request_log(app)
    store.listeners.append(pusher.notify)

    async def close_pusher(_: web.Application) -> AsyncIterator[None]:
        yield
        await pusher.close()

    app.cleanup_ctx.append(close_pusher)
    if options.clock_skew_seconds:
        app.on_response_prepare.append(_skewed_date(options.clock_skew_seconds))
    add_api_routes(app)
    add_admin_routes(app)
    add_fault_routes(app, injector)
    return app
