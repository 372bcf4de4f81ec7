"""The asyncpg connection pool every service shares its Postgres access through."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

Pool = asyncpg.Pool
# What repository functions accept: a bare connection or one borrowed from the pool.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


async def init_connection(conn: Connection) -> None:
    """Prepare a connection the way every pooled one is (the CLI's single connections too)."""
    # jsonb columns travel as orjson-encoded text, so payloads round-trip byte-for-byte.
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    """Open a pool whose connections decode ``jsonb`` into Python objects."""
    pool = await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, init=init_connection, command_timeout=60
    )
    assert pool is not None
    return pool
