"""Connections: each one's status, and ``connector connections test`` on a button.

The diagnostics are ``shared.connections.diagnose``, the function the CLI runs, on the
connection decrypted the way the CLI decrypts it (``load_connection`` under the master key).
An operator may run them: they make only token requests and reads (the one thing written is a
tenant fact the poster would find out too), and no finding carries a secret. A viewer may not,
since each run spends calls of both systems' rate limits. Without ``CONNECTOR_MASTER_KEY`` the
console cannot decrypt the credentials, and the page says so instead of offering the button.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web

from services.console.read.connections import connection_statuses
from services.console.users import Role
from services.console.web import actor, needs, refuse, render, user_of
from shared.connections.diagnose import diagnose
from shared.connections.store import ConnectionNotFoundError, load_connection
from shared.records import append_audit
from shared.secrets import KeyRing, SecretsError
from shared.service.app import POOL, SETTINGS

log = logging.getLogger(__name__)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/connections", show)
    router.add_post("/connections/{name}/test", test)


def _key_ring(request: web.Request) -> tuple[KeyRing | None, str]:
    """The console's master keys, or None and why it has none it can use."""
    try:
        return KeyRing.from_settings(request.app[SETTINGS]), ""
    except SecretsError as exc:
        return None, str(exc)


async def show(request: web.Request) -> web.Response:
    ring, no_key = _key_ring(request)
    async with request.app[POOL].acquire() as conn:
        statuses = await connection_statuses(conn)
    return render(
        request,
        "connections.html",
        {
            "statuses": statuses,
            "key_ids": ring.key_ids if ring else frozenset(),
            "no_key": no_key,
            "now": datetime.now(UTC),
        },
    )


@needs(Role.OPERATOR)
async def test(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    ring, no_key = _key_ring(request)
    if ring is None:
        return refuse(request, f"The console cannot decrypt credentials: {no_key}", status=503)
    user = user_of(request).name
    async with request.app[POOL].acquire() as conn:
        try:
            connection = await load_connection(conn, ring, name)
        except ConnectionNotFoundError:
            return refuse(request, f"There is no connection {name}.", status=404)
        except SecretsError as exc:
            return refuse(request, f"The secrets of {name} cannot be opened: {exc}", status=503)
        findings = await diagnose(connection, conn)
        problems = sum(1 for f in findings if f.status == "PROBLEM")
        await append_audit(
            conn,
            record_key=f"{name}:connection:settings",
            service=actor(request),
            event="connection_tested",
            details={"user": user, "problems": problems, "checks": len(findings)},
        )
    log.info("connection tested", extra={"user": user, "connection": name, "problems": problems})
    context = {"name": name, "connection": connection, "findings": findings, "problems": problems}
    return render(request, "connection_test.html", context)
