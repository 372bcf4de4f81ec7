"""``POST {base}/token`` (password and refresh grants) and the bearer check on every API call.

Token-endpoint refusals use the OAuth shape ``{"error", "error_description"}`` (deltek-api.md
§1.3, 🟡); the descriptions are our wording. The 401 body for a missing or expired bearer token
is undocumented (§1.3, ❓); we answer ASP.NET's usual ``{"Message": "Authorization has been
denied for this request."}``. Form field names match case-insensitively and ``Integrated``
defaults to ``N`` (§1.1).
"""

from __future__ import annotations

import secrets
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from simulators.deltek.state import STATE_KEY, SimState, Token, answer, error

DENIED = "Authorization has been denied for this request."


def _oauth_error(code: str, description: str) -> web.Response:
    return answer({"error": code, "error_description": description}, 400)


def _lifetime(state: SimState) -> int:
    """The fault plan's ``token_ttl_seconds`` overrides the configured lifetime (token expiry)."""
    ttl = state.faults.plan.token_ttl_seconds
    return state.options.token_lifetime_seconds if ttl is None else ttl


def _issue(state: SimState, user: str, client_id: str, refresh: str | None = None) -> web.Response:
    access = "vp_at_" + secrets.token_urlsafe(24)
    lifetime = _lifetime(state)
    state.access_tokens[access] = Token(user, client_id, time.monotonic() + lifetime)
    if refresh is None or state.options.rotate_refresh_token:
        if refresh is not None:
            state.refresh_tokens.pop(refresh, None)
        refresh = "vp_rt_" + secrets.token_urlsafe(24)
        state.refresh_tokens[refresh] = (user, client_id)
    return answer(
        {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": lifetime,
            "refresh_token": refresh,
        }
    )


def _client_ok(state: SimState, form: dict[str, str]) -> bool:
    expected = state.options.credentials
    if not state.options.strict_credentials:
        return bool(form.get("client_id"))
    return form.get("client_id") == expected.client_id and secrets.compare_digest(
        form.get("client_secret", ""), expected.client_secret
    )


async def token(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    form = {k.lower(): v for k, v in (await request.post()).items() if isinstance(v, str)}
    expected = state.options.credentials
    grant = form.get("grant_type", "")
    if grant not in ("password", "refresh_token"):
        return _oauth_error("unsupported_grant_type", f"Grant type {grant!r} is not supported.")
    if not _client_ok(state, form):
        return _oauth_error("invalid_client", "The client id or secret is invalid.")
    if state.options.strict_credentials and form.get("database") != expected.database:
        return _oauth_error("invalid_grant", f"Invalid database {form.get('database', '')}.")
    if grant == "refresh_token":
        held = state.refresh_tokens.get(form.get("refresh_token", ""))
        if held is None or held[1] != form["client_id"]:
            return _oauth_error("invalid_grant", "The refresh token is invalid or expired.")
        return _issue(state, held[0], held[1], form["refresh_token"])
    if not state.options.password_grant_enabled:
        return _oauth_error(
            "unauthorized_client", "The password grant type is not allowed for this client."
        )
    user, password = form.get("username", ""), form.get("password", "")
    if form.get("integrated", "N").upper() not in ("Y", "N"):
        return _oauth_error("invalid_request", "Integrated must be Y or N.")
    good = bool(user and password)
    if state.options.strict_credentials:
        good = user == expected.username and secrets.compare_digest(password, expected.password)
    if not good:
        return _oauth_error("invalid_grant", "The user name or password is incorrect.")
    return _issue(state, user, form["client_id"])


def bearer_user(state: SimState, request: web.Request) -> str | None:
    """The user behind a valid, unexpired bearer token, or None."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    held = state.access_tokens.get(value.strip()) if scheme.lower() == "bearer" else None
    if held is None or held.expires_at <= time.monotonic():
        return None
    return held.user


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require a bearer token on every API and vision path except the token endpoint."""
    state = request.app[STATE_KEY]
    prefix = state.prefix
    protected = request.path.startswith((f"{prefix}/api/", f"{prefix}/vision/"))
    if not protected or request.path == f"{prefix}/api/token":
        return await handler(request)
    if bearer_user(state, request) is None:
        return error(401, DENIED)
    return await handler(request)


def expire_all(state: SimState) -> int:
    """Make every access token already issued stop working now (the admin "token expiry")."""
    for held in state.access_tokens.values():
        held.expires_at = 0.0
    return len(state.access_tokens)
