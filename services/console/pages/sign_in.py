"""Signing in and out: a name and password checked against the users file, rate-limited.

Wrong passwords are counted per user name and per client address (``sign_in_limit.py``; behind
a trusted proxy the address is the client's, from ``client_address.py``); past the limit the
page answers 429 with ``Retry-After`` without checking the password at all. Each attempt is
logged with the name and address, never the password.
"""

from __future__ import annotations

import asyncio
import logging
import math
import unicodedata
from urllib.parse import urlsplit

from aiohttp import web

from services.console.client_address import FORWARDED_FOR, client_address
from services.console.sessions import Session
from services.console.users import User, verify_password
from services.console.web import (
    LIMITER,
    USERS,
    VERIFYING,
    render,
    replace_session,
    see_other,
    session_of,
    tuning_of,
)

log = logging.getLogger(__name__)

# argon2 costs tens of milliseconds of CPU and memory on purpose: each check runs on a thread, off
# the event loop, and only this many at once, so a flood of sign-ins queues instead of spawning
# threads.
VERIFY_AT_ONCE = 4


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/sign-in", show)
    router.add_post("/sign-in", sign_in)
    router.add_post("/sign-out", sign_out)


def next_path(value: object) -> str:
    """Where to go after signing in: a path on this console only, never another site."""
    target = value if isinstance(value, str) else ""
    # Browsers drop tabs and newlines and read "\" as "/", so "/\t/host" or "/\host" turns into
    # "//host", another site: refuse every such character rather than guess how it is read.
    if any(ch.isspace() or ch == "\\" or unicodedata.category(ch) == "Cc" for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    return target


async def show(request: web.Request) -> web.Response:
    return render(request, "sign_in.html", {"next": next_path(request.query.get("next"))})


async def sign_in(request: web.Request) -> web.Response:
    form = await request.post()
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    target = next_path(form.get("next"))
    trusted = tuning_of(request.app).trusted_proxies
    address = client_address(request.remote, request.headers.getall(FORWARDED_FOR, []), trusted)
    keys = (f"user:{name.casefold()}", f"address:{address}")
    limiter = request.app[LIMITER]
    wait = limiter.retry_after(*keys)
    if wait > 0:
        log.warning("sign-in refused: too many failures", extra={"user": name, "from": address})
        page = render(
            request,
            "sign_in.html",
            {"next": target, "name": name, "error": "Too many wrong passwords. Try again later."},
            status=429,
        )
        page.headers["Retry-After"] = str(math.ceil(wait))
        return page
    user = request.app[USERS].get(name)
    if not await _verified(request, user, password) or user is None:
        limiter.failed(*keys)
        log.warning("sign-in failed", extra={"user": name, "from": address})
        error = "That name and password do not match."
        return render(
            request, "sign_in.html", {"next": target, "name": name, "error": error}, status=401
        )
    limiter.succeeded(keys[0])
    replace_session(request, Session.fresh(user.name))
    log.info("signed in", extra={"user": user.name, "role": user.role.label, "from": address})
    return see_other(target)


async def _verified(request: web.Request, user: User | None, password: str) -> bool:
    async with request.app[VERIFYING]:
        return await asyncio.to_thread(verify_password, user, password)


async def sign_out(request: web.Request) -> web.Response:
    log.info("signed out", extra={"user": session_of(request).user})
    replace_session(request, Session.fresh())
    return see_other("/sign-in")
