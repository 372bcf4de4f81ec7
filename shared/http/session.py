"""The HTTP session a client owns unless it is handed one, closed with the client."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import aiohttp


class SessionOwner:
    """Base of the API clients: ``async with`` support, and a session closed only if ours.

    A caller that shares one session between clients (tests, a service with many connections)
    keeps it open; a client that made its own closes it.
    """

    def __init__(
        self, session: aiohttp.ClientSession | None, timeout: aiohttp.ClientTimeout | None = None
    ) -> None:
        self._own_session = session is None
        self._session = session or aiohttp.ClientSession(timeout=timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session:
            await self._session.close()
