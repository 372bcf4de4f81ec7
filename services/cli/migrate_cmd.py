"""``connector migrate``: bring the schema up to date on the configured or embedded Postgres."""

from __future__ import annotations

import sys

import asyncpg

from shared.db.migrate import migrate
from shared.embedded.postgres import EmbeddedPostgres
from shared.endpoints import DEFAULT_POSTGRES_PORT, pgdata_dir, resolve_database_url
from shared.logs import configure_logging
from shared.service.app import DATABASE_UNREACHABLE, StartupError, database_unreachable
from shared.settings import Settings


async def apply(url: str) -> list[str]:
    try:
        conn = await asyncpg.connect(url)
    except DATABASE_UNREACHABLE as exc:
        raise database_unreachable(url, exc) from exc
    try:
        return await migrate(conn)
    finally:
        await conn.close()


async def run() -> int:
    settings = Settings()
    configure_logging("migrate", settings.log_level)
    url = resolve_database_url(settings)
    embedded = None
    if url is None:
        # Nothing configured and no stack running: start the embedded server just for this.
        embedded = EmbeddedPostgres(pgdata_dir(settings), DEFAULT_POSTGRES_PORT)
        url = embedded.start()
    try:
        applied = await apply(url)
    except StartupError as exc:
        print(f"connector migrate: {exc}", file=sys.stderr)
        return 2
    finally:
        if embedded is not None:
            embedded.stop()
    print(f"migrations applied: {', '.join(applied)}" if applied else "schema is up to date")
    return 0
