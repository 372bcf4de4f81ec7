"""Migrations on a real Postgres: applied once, twice is a no-op, concurrent runners agree."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.db.migrate import Migration, MigrationError, discover, migrate

pytestmark = pytest.mark.integration


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url)


async def test_applies_every_migration_once_then_nothing(empty_db_url):
    conn = await connect(empty_db_url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        versions = [
            r["version"]
            for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")
        ]
    finally:
        await conn.close()
    assert first == [f"{m.version:04d}_{m.name}" for m in discover()]
    assert second == []
    assert {"records", "audit_events", "schema_migrations"} <= tables
    assert versions == [m.version for m in discover()]


async def test_two_processes_at_once_apply_each_migration_exactly_once(empty_db_url):
    conns = [await connect(empty_db_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        rows = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        for c in conns:
            await c.close()
    applied = [name for result in results for name in result]
    assert sorted(applied) == sorted(f"{m.version:04d}_{m.name}" for m in discover())
    assert rows == len(discover())


async def test_a_failing_migration_leaves_nothing_half_applied(empty_db_url):
    broken = [
        Migration(1, "good", "CREATE TABLE a (id int)"),
        Migration(2, "bad", "CREATE TABLE b (id int); SELECT no_such_function()"),
    ]
    conn = await connect(empty_db_url)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(conn, broken)
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
        # The lock is released even after a failure: a second runner is not blocked.
        assert await migrate(conn, broken[:1]) == []
    finally:
        await conn.close()
    assert "a" in tables and "b" not in tables
    assert versions == [1]


async def test_an_edited_applied_migration_stops_the_run(empty_db_url):
    conn = await connect(empty_db_url)
    try:
        await migrate(conn, [Migration(1, "first", "CREATE TABLE a (id int)")])
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, [Migration(1, "first", "CREATE TABLE a (id bigint)")])
    finally:
        await conn.close()
