"""Job locks of a poster with many jobs in flight: one session for all, exclusive per job."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from shared.db.pool import create_pool
from shared.ledger import JobLocks

pytestmark = pytest.mark.integration

# Advisory locks in this test's database only (pg_locks spans the whole server).
ADVISORY_HOLDERS = """SELECT {action} FROM pg_locks
 WHERE locktype = 'advisory'
   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""


async def test_many_jobs_hold_their_locks_on_one_pooled_connection(db_url: str):
    pool = await create_pool(db_url, max_size=2)
    try:
        locks = JobLocks(pool)
        async with AsyncExitStack() as held:
            got = [await held.enter_async_context(locks.holding(f"job-{n}")) for n in range(20)]
            assert all(got)
            # 20 jobs hold locks, yet the pool still lends a connection to their handlers.
            assert await asyncio.wait_for(pool.fetchval("SELECT 1"), 5) == 1
            assert await pool.fetchval(ADVISORY_HOLDERS.format(action="count(DISTINCT pid)")) == 1
        # None held: the connection went back to the pool and every lock with it.
        assert await pool.fetchval(ADVISORY_HOLDERS.format(action="count(*)")) == 0
    finally:
        await pool.close()


async def test_a_job_is_held_once_in_a_process_and_once_across_processes(db_url: str):
    first_pool = await create_pool(db_url, max_size=2)
    second_pool = await create_pool(db_url, max_size=2)
    try:
        mine, theirs = JobLocks(first_pool), JobLocks(second_pool)
        async with mine.holding("job-1") as got:
            assert got
            async with mine.holding("job-1") as again:
                assert not again  # Postgres would grant it to the same session: we do not
            async with theirs.holding("job-1") as other:
                assert not other
            async with theirs.holding("job-2") as other:
                assert other
        async with theirs.holding("job-1") as other:
            assert other  # released when the handling ended
    finally:
        await first_pool.close()
        await second_pool.close()


async def test_a_session_lost_mid_job_frees_the_job_and_the_next_take_works(db_url: str):
    pool = await create_pool(db_url, max_size=2)
    try:
        locks = JobLocks(pool)
        async with locks.holding("job-1") as got:
            assert got
            await pool.execute(ADVISORY_HOLDERS.format(action="pg_terminate_backend(pid)"))
        # The session died with its lock; giving it back did not fail, and locks work again.
        async with locks.holding("job-1") as got:
            assert got
    finally:
        await asyncio.wait_for(pool.close(), 10)  # no session left borrowed
