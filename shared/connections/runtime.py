"""Connections as the running services use them: settings, secrets, one client per system.

One Coupa and one Deltek client per connection are kept for the life of the process, because
their token managers must be shared (single-flight renewal; Coupa's token lives a day). Each use
checks the connection's ``updated_at``: after ``connector connections apply`` changed its
settings or secrets the clients are rebuilt, which also clears a "needs attention" latch once
the credentials are fixed. Ingest uses the Coupa side, the poster the Deltek side.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from shared.connection_settings import ConnectionSettings
from shared.connections.model import Connection
from shared.connections.store import load_connection
from shared.coupa.client import CoupaClient
from shared.db.pool import Pool
from shared.deltek import DeltekClient
from shared.secrets import KeyRing

log = logging.getLogger(__name__)


# How long a loaded connection is trusted before ``updated_at`` is asked again: a Call Out or a
# command then costs no extra query, and an applied change still takes effect within seconds.
_FRESH_SECONDS = 2.0


@dataclass
class _Loaded:
    updated_at: datetime
    connection: Connection
    checked_at: float = field(default_factory=time.monotonic)
    client: DeltekClient | None = None
    coupa_client: CoupaClient | None = None

    async def close(self) -> None:
        for client in (self.client, self.coupa_client):
            if client is not None:
                await client.close()


class StoredConnections:
    """Connections read from the ``connections`` and ``credentials`` tables (decrypted)."""

    def __init__(self, pool: Pool, ring: KeyRing, *, fresh_seconds: float = _FRESH_SECONDS) -> None:
        self._pool = pool
        self._ring = ring
        self._fresh_seconds = fresh_seconds
        self._loaded: dict[str, _Loaded] = {}
        self._lock = asyncio.Lock()

    async def names(self) -> list[str]:
        rows = await self._pool.fetch("SELECT name FROM connections ORDER BY name")
        return [row["name"] for row in rows]

    async def settings_for(self, connection: str) -> ConnectionSettings | None:
        loaded = await self._current(connection)
        return loaded.connection.pipeline_settings() if loaded else None

    async def client_for(self, connection: str) -> DeltekClient:
        loaded = await self._current(connection)
        if loaded is None:
            raise LookupError(f"no connection named {connection!r} is stored")
        if loaded.client is None:
            loaded.client = DeltekClient(loaded.connection.deltek_config())
        return loaded.client

    async def callout_secrets(self, name: str) -> list[str] | None:
        loaded = await self._current(name)
        if loaded is None:
            return None
        return [s.get_secret_value() for s in loaded.connection.secrets.coupa_callout_secrets]

    async def poll_interval(self, name: str) -> float:
        loaded = await self._current(name)
        if loaded is None:
            raise LookupError(f"no connection named {name!r} is stored")
        return loaded.connection.settings.coupa.poll_interval_seconds

    async def coupa(self, name: str) -> CoupaClient:
        loaded = await self._current(name)
        if loaded is None:
            raise LookupError(f"no connection named {name!r} is stored")
        if loaded.coupa_client is None:
            loaded.coupa_client = CoupaClient(loaded.connection.coupa_config())
        return loaded.coupa_client

    async def _current(self, name: str) -> _Loaded | None:
        """The stored connection, reloaded (and its client replaced) when it changed."""
        known = self._loaded.get(name)
        if known is not None and time.monotonic() - known.checked_at < self._fresh_seconds:
            return known
        updated_at = await self._pool.fetchval(
            "SELECT updated_at FROM connections WHERE name = $1", name
        )
        async with self._lock:
            loaded = self._loaded.get(name)
            if updated_at is None:
                if loaded is not None:
                    await self._drop(name, loaded)
                return None
            if loaded is not None and loaded.updated_at == updated_at:
                loaded.checked_at = time.monotonic()
                return loaded
            async with self._pool.acquire() as conn:
                connection = await load_connection(conn, self._ring, name)
            if loaded is not None:
                await self._drop(name, loaded)
            self._loaded[name] = fresh = _Loaded(updated_at, connection)
            return fresh

    async def _drop(self, name: str, loaded: _Loaded) -> None:
        del self._loaded[name]
        log.info("connection changed; rebuilding its clients", extra={"connection": name})
        await loaded.close()

    async def close(self) -> None:
        for loaded in self._loaded.values():
            await loaded.close()
        self._loaded.clear()
