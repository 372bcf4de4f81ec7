"""Start a simulator app on a TCP port (0 = any free one) and stop it again, for CLI and tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


@asynccontextmanager
async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ``app`` until the block exits; yields its base URL (``http://host:port``)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()


async def serve_forever(app: web.Application, host: str, port: int) -> None:
    """Serve until cancelled (Ctrl-C in the CLI)."""
    async with serve(app, host, port) as url:
        print(f"listening on {url}", flush=True)
        await asyncio.Event().wait()
