"""Loopback servers that misbehave as a hijacked base URL or a broken proxy would.

Shared by the Coupa and Deltek outbound tests: every server records what it was sent, so a test
can tell whether a secret, a password or a bearer token reached a place nobody configured; its
handlers redirect, answer a normal token, or answer more than a client may read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from aiohttp import web

from simulators.common.server import serve

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The bearer the configured origin issues: it must never be seen by another server.
ORIGIN_TOKEN = "token-issued-by-the-configured-origin"
# How long a held-open answer waits for the client to hang up before giving up on it.
_HOLD_SECONDS = 30.0


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def carries(self, secret: str) -> bool:
        """Whether ``secret`` is anywhere in the request, as sent or form-encoded."""
        text = " ".join([self.path, *self.headers.values(), self.body.decode(errors="replace")])
        return secret in text or quote_plus(secret) in text


@dataclass
class Server:
    url: str
    received: list[Received] = field(default_factory=list)

    def carried(self, secret: str) -> bool:
        return any(request.carries(secret) for request in self.received)

    def hits(self, path: str) -> int:
        return sum(1 for request in self.received if request.path.split("?")[0] == path)


async def start(
    stack: AsyncExitStack, default: Handler, routes: Mapping[str, Handler] | None = None
) -> Server:
    """A server answering ``routes`` by path and anything else with ``default``, recording all."""
    server = Server("")

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        server.received.append(
            Received(request.method, request.path_qs, dict(request.headers), body)
        )
        return await handler(request)

    app = web.Application(middlewares=[record])
    for path, handler in (routes or {}).items():
        app.router.add_route("*", path, handler)
    app.router.add_route("*", "/{tail:.*}", default)
    server.url = await stack.enter_async_context(serve(app))
    return server


async def failure(call: Awaitable[Any]) -> Exception | None:
    """What ``call`` raised, or None: a test first checks what reached the servers (the point
    of the test, whether the client fails or not), then how the client failed."""
    try:
        await call
    except Exception as exc:
        return exc
    return None


async def elsewhere(stack: AsyncExitStack) -> Server:
    """The place a redirect points to: it answers every request as an API would, so a client
    that followed the redirect would take its answer."""
    return await start(stack, issue_token)


async def issue_token(_request: web.Request) -> web.Response:
    """A token answer shaped as both Coupa and Deltek give it (their docs §1)."""
    return web.json_response(
        {"access_token": ORIGIN_TOKEN, "token_type": "bearer", "expires_in": 3600, "id": 1}
    )


def redirect_to(target: str, status: int) -> Handler:
    """Redirect to the same path and query on ``target`` (an origin, or "" for a relative one)."""

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": f"{target}{request.path_qs}"})

    return redirect


def too_big(size: int, status: int = 200) -> Handler:
    """A complete JSON answer of more than ``size`` bytes, readable as a token or as a record,
    so a client without a bound takes it."""

    async def answer(_request: web.Request) -> web.Response:
        body = {"access_token": "t" * size, "expires_in": 3600, "ClientID": "V1", "id": 1}
        return web.json_response(body, status=status)

    return answer


def endless(size: int, *, declare: bool) -> Handler:
    """A JSON array that never ends: ``size`` bytes streamed in chunks (``declare=False``), or a
    ``Content-Length`` of ``size`` with only its first byte sent (``declare=True``); then the
    answer is held open until the client hangs up. A client that reads everything before
    judging the size waits for its timeout; one that bounds while streaming fails at once."""

    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if declare:
            response.content_length = size
        await response.prepare(request)
        try:
            await response.write(b"[")
            chunk = b'{"id": 1},' * 6554  # 64 KiB
            for _ in range(0 if declare else size // len(chunk) + 1):
                await response.write(chunk)
        except ConnectionError:
            return response
        deadline = asyncio.get_running_loop().time() + _HOLD_SECONDS
        while (transport := request.transport) is not None and not transport.is_closing():
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        return response

    return answer
