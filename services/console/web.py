"""What every console page stands on: the session and CSRF guard, roles, and rendering.

One middleware does, in order: read the session cookie (or start an anonymous session, whose
CSRF token the sign-in form needs); refuse any POST whose CSRF token is not the session's (403);
send a visitor who is not signed in to the sign-in page; add the security headers; and write
the cookie back when the session changed. Pages say which role they need with :func:`needs`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Handler
from jinja2 import Environment, PackageLoader, select_autoescape

from services.console.sessions import COOKIE, CSRF_FIELD, CSRF_HEADER, Session, SessionCodec
from services.console.settings import ConsoleSettings, ConsoleTuning
from services.console.sign_in_limit import SignInLimiter
from services.console.users import Role, User, UserDirectory
from shared.service.app import SETTINGS

log = logging.getLogger(__name__)

USERS = web.AppKey("users", UserDirectory)
CODEC = web.AppKey("codec", SessionCodec)
LIMITER = web.AppKey("limiter", SignInLimiter)
TEMPLATES = web.AppKey("templates", Environment)
# Password checks running at once, each on a thread of its own (pages/sign_in.py).
VERIFYING = web.AppKey("verifying", asyncio.Semaphore)

# Reached without signing in: probes, the sign-in page itself and its style sheet.
OPEN_PATHS = ("/healthz", "/readyz", "/sign-in", "/static/")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# On every answer: no framing (clickjacking), nothing but our own files loaded (no inline
# script can run even if some text escaped), no guessing of content types, no page kept in a
# shared cache, and no record key sent to another site in a Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_SESSION = web.RequestKey("session", Session)
_SESSION_CHANGED = web.RequestKey("session_changed", bool)

PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("services.console"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["Role"] = Role
    return env


def tuning_of(app: web.Application) -> ConsoleTuning:
    """The console's own settings (``create_app`` is always given ``ConsoleSettings``)."""
    settings = app[SETTINGS]
    assert isinstance(settings, ConsoleSettings)
    return settings.console


def session_of(request: web.Request) -> Session:
    return request[_SESSION]


def user_of(request: web.Request) -> User:
    """The signed-in user; only called on pages the guard let through, which have one."""
    user = request.app[USERS].get(session_of(request).user or "")
    assert user is not None
    return user


def replace_session(request: web.Request, session: Session) -> None:
    """Start a new session (sign-in, sign-out): the cookie is written with the response."""
    request[_SESSION] = session
    request[_SESSION_CHANGED] = True


def actor(request: web.Request) -> str:
    """Who did it, as the audit trail names an action taken in the console."""
    return f"console:{user_of(request).name}"


def see_other(location: str) -> web.Response:
    """A redirect after a POST, so a reload does not send the form again."""
    return web.Response(status=303, headers={"Location": location})


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """A page from ``templates/``, with the user, the CSRF token and the path it is at."""
    session = session_of(request)
    user = request.app[USERS].get(session.user or "")
    page = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(user=user, csrf=session.csrf, csrf_field=CSRF_FIELD, path=request.path, **context)
    )
    return web.Response(text=page, status=status, content_type="text/html")


def refuse(request: web.Request, message: str, *, status: int = 403) -> web.Response:
    return render(request, "refused.html", {"message": message}, status=status)


def needs(role: Role) -> Callable[[PageHandler], PageHandler]:
    """Let only users with ``role`` or above through; others get 403 and a page saying why."""

    def wrap(handler: PageHandler) -> PageHandler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            user = user_of(request)
            if not user.may(role):
                log.warning(
                    "refused: role too low",
                    extra={"user": user.name, "path": request.path, "needs": role.label},
                )
                return refuse(
                    request, f"This needs the {role.label} role; you are a {user.role.label}."
                )
            return await handler(request)

        return guarded

    return wrap


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Session in, CSRF and sign-in checked, session cookie out (see the module docstring)."""
    codec = request.app[CODEC]
    session = codec.load(request.cookies.get(COOKIE))
    request[_SESSION] = session or Session.fresh()
    request[_SESSION_CHANGED] = session is None
    response = await _checked(request, handler)
    response.headers.update(SECURITY_HEADERS)
    if request[_SESSION_CHANGED]:
        response.set_cookie(
            COOKIE,
            codec.dump(session_of(request)),
            max_age=codec.max_age_seconds,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=tuning_of(request.app).secure_cookies,
        )
    return response


async def _checked(request: web.Request, handler: Handler) -> web.StreamResponse:
    session = session_of(request)
    if request.method not in _SAFE_METHODS:
        token = request.headers.get(CSRF_HEADER)
        if token is None:
            field = (await request.post()).get(CSRF_FIELD)
            token = field if isinstance(field, str) else None
        if not session.accepts(token):
            log.warning("refused: CSRF token missing or wrong", extra={"path": request.path})
            return refuse(
                request,
                "This form has expired or did not come from the console. "
                "Go back, reload the page and try again.",
            )
    if request.path.startswith(OPEN_PATHS):
        return await handler(request)
    if session.user is None or request.app[USERS].get(session.user) is None:
        if request.method in _SAFE_METHODS:
            return see_other("/sign-in?" + urlencode({"next": request.path_qs}))
        return refuse(request, "Sign in first.")
    return await handler(request)
