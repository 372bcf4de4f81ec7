"""What every database-backed subcommand needs: the URL, a connection, a clear error if none."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from shared.db.pool import init_connection
from shared.endpoints import resolve_database_url
from shared.settings import Settings


class NoDatabaseError(SystemExit):
    """No database is configured and no embedded stack runs here."""


@asynccontextmanager
async def database(settings: Settings, command: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the configured (or running embedded) database, closed afterwards."""
    url = resolve_database_url(settings)
    if url is None:
        print(
            f"connector {command}: set CONNECTOR_DATABASE_URL or start `connector dev` here",
            file=sys.stderr,
        )
        raise NoDatabaseError(2)
    conn = await asyncpg.connect(url)
    await init_connection(conn)
    try:
        yield conn
    finally:
        await conn.close()
