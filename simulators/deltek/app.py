"""The Deltek Vantagepoint simulator as an aiohttp application (``create_app``)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from simulators.common.faults import FaultInjector, FaultPlan, add_fault_routes, fault_middleware
from simulators.common.requests import add_request_log, record_requests
from simulators.deltek.admin import add_admin_routes
from simulators.deltek.auth import auth_middleware, token
from simulators.deltek.options import SimOptions
from simulators.deltek.routes import add_api_routes
from simulators.deltek.state import STATE_KEY, SimState, error
from simulators.deltek.store import SimError


def _render_error(_request: web.Request, status: int, message: str) -> web.StreamResponse:
    return error(status, message)


@web.middleware
async def _error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Business refusals and unknown routes answer ``{"Message": ...}`` like the real API."""
    try:
        return await handler(request)
    except SimError as exc:
        return error(exc.status, exc.message)
    except web.HTTPNotFound:
        return error(
            404, f"No HTTP resource was found that matches the request URI '{request.url}'."
        )
    except web.HTTPMethodNotAllowed:
        return error(
            405, f"The requested resource does not support http method '{request.method}'."
        )


def create_app(
    options: SimOptions | None = None, faults: FaultPlan | None = None
) -> web.Application:
    """A seeded simulator; without options it accepts any credentials (see ``options.py``)."""
    options = options or SimOptions()
    injector = FaultInjector(faults)
    state = SimState(options=options, faults=injector)
    app = web.Application(
        middlewares=[
            record_requests,
            fault_middleware(injector, _render_error, exempt_prefixes=("/_admin",)),
            _error_middleware,
            auth_middleware,
        ]
    )
    app[STATE_KEY] = state
    app.router.add_post(f"{state.prefix}/api/token", token)
    add_api_routes(app, state.prefix)
    add_admin_routes(app)
    add_fault_routes(app, injector)
    add_request_log(app)
    return app
