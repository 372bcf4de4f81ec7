"""Which records replay picks, on real Postgres: every criterion is held on each record's newest
version, oldest change first, and a limit caps what is read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.db.pool import Connection, create_pool
from shared.replay import Selection, select

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 2, tzinfo=UTC)
# (record key, version, state, hours after DAY): the last version of each key is its newest.
VERSIONS = [
    ("acme:invoice:1", "v1", "parked", 1),
    ("acme:invoice:1", "v2", "posted", 5),  # parked once, posted now: not a parked record
    ("acme:invoice:2", "v1", "parked", 3),
    ("acme:invoice:3", "v1", "parked", 2),
    ("acme:invoice:4", "v1", "parked", 30),  # the next day
    ("other:invoice:5", "v1", "parked", 4),
]


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[Connection]:
    pool = await create_pool(db_url)
    try:
        async with pool.acquire() as conn:
            for key, version, state, hours in VERSIONS:
                connection, kind, coupa_id = key.split(":")
                await conn.execute(
                    """INSERT INTO records (record_key, connection, kind, coupa_id, version,
                                            state, payload, updated_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
                    key,
                    connection,
                    kind,
                    coupa_id,
                    version,
                    state,
                    {"invoice": {"id": int(coupa_id)}},
                    DAY + timedelta(hours=hours),
                )
            yield conn
    finally:
        await pool.close()


def keys(rows: list[dict[str, object]]) -> list[object]:
    return [row["record_key"] for row in rows]


async def test_state_and_connection_hold_on_the_newest_version_oldest_change_first(conn):
    parked = Selection(states=("parked",), connection="acme")
    assert keys(await select(conn, parked)) == [
        "acme:invoice:3",
        "acme:invoice:2",
        "acme:invoice:4",
    ]
    posted = await select(conn, Selection(states=("posted",)))
    assert [(row["record_key"], row["state"]) for row in posted] == [("acme:invoice:1", "posted")]
    assert posted[0]["payload"] == {"invoice": {"id": 1}}


async def test_the_date_range_takes_its_start_and_leaves_its_end(conn):
    one_day = Selection(since=DAY, until=DAY + timedelta(days=1))
    assert keys(await select(conn, one_day)) == [
        "acme:invoice:3",
        "acme:invoice:2",
        "other:invoice:5",
        "acme:invoice:1",
    ]
    from_three = Selection(since=DAY + timedelta(hours=3), until=DAY + timedelta(hours=5))
    assert keys(await select(conn, from_three)) == ["acme:invoice:2", "other:invoice:5"]


async def test_a_limit_reads_only_the_oldest_changes(conn):
    assert keys(await select(conn, Selection(), limit=2)) == ["acme:invoice:3", "acme:invoice:2"]
    assert keys(await select(conn, Selection(record_key="acme:invoice:1"), limit=1)) == [
        "acme:invoice:1"
    ]
    assert len(await select(conn, Selection())) == 5
