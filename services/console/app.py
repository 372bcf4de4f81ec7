"""The console as an aiohttp app on the service base: health, readiness, metrics, Postgres and a
Kafka producer (for replay) come from ``shared.service.app``; the pages and their guard from here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from services.console.pages import (
    connections,
    coverage,
    exceptions,
    flagged,
    mappings,
    overview,
    preview,
    reconciliation,
    records,
    replay,
    sign_in,
    vendors,
    watch,
)
from services.console.sessions import SessionCodec
from services.console.settings import ConsoleSettings
from services.console.sign_in_limit import SignInLimiter
from services.console.users import UserDirectory
from services.console.web import CODEC, LIMITER, TEMPLATES, USERS, VERIFYING, guard, templates
from shared.endpoints import Endpoints
from shared.service.app import base_app

STATIC = Path(__file__).parent / "static"


def create_app(
    settings: ConsoleSettings, endpoints: Endpoints, users: UserDirectory, session_secret: str
) -> web.Application:
    """The console serving ``users``, its cookies signed with ``session_secret``.

    Users and secret are passed in, not read here, so ``connector console`` can refuse to start
    without them and tests can give their own.
    """
    app = base_app("console", settings, endpoints)
    app.middlewares.append(guard)
    app[USERS] = users
    app[CODEC] = SessionCodec(session_secret, settings.console.session_max_age_seconds)
    app[LIMITER] = SignInLimiter(
        settings.console.sign_in_failures, settings.console.sign_in_window_seconds
    )
    app[VERIFYING] = asyncio.Semaphore(sign_in.VERIFY_AT_ONCE)
    app[TEMPLATES] = templates()
    app.router.add_static("/static/", STATIC)
    pages = (sign_in, overview, records, exceptions, replay, watch, mappings, coverage)
    for page in (*pages, flagged, vendors, preview, connections, reconciliation):
        page.add_routes(app.router)
    return app
