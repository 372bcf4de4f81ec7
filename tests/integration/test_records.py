"""The records repository on a real Postgres: one row per version, every delivery audited."""

from __future__ import annotations

import asyncpg
import pytest

from shared.db.pool import create_pool
from shared.kafka.envelope import Coordinates
from shared.records import mark_dead_lettered, record_received
from tests.support import invoice_event

pytestmark = pytest.mark.integration


async def test_a_redelivered_event_is_stored_once_and_audited_twice(db_url):
    pool = await create_pool(db_url)
    event = invoice_event("acme", 42)
    try:
        async with pool.acquire() as conn:
            first = await record_received(
                conn, event, Coordinates(topic="t", partition=0, offset=7), service="mapper"
            )
            again = await record_received(
                conn, event, Coordinates(topic="t", partition=0, offset=9), service="mapper"
            )
            records = await conn.fetch("SELECT * FROM records")
            audit = await conn.fetch(
                "SELECT event, kafka_offset, details FROM audit_events ORDER BY id"
            )
    finally:
        await pool.close()
    assert first[1] is True and again == (first[0], False)
    assert len(records) == 1
    assert records[0]["payload"] == event.payload
    assert (records[0]["connection"], records[0]["kind"], records[0]["coupa_id"]) == (
        "acme",
        "invoice",
        "42",
    )
    assert [(a["event"], a["kafka_offset"]) for a in audit] == [("received", 7), ("redelivered", 9)]
    assert audit[0]["details"]["event_id"] == str(event.event_id)


async def test_a_new_coupa_version_is_a_new_record(db_url):
    conn = await asyncpg.connect(db_url)
    pool = await create_pool(db_url)
    try:
        async with pool.acquire() as c:
            await record_received(
                c,
                invoice_event("acme", 1, "2026-11-01T10:00:00Z"),
                Coordinates(topic="t", partition=0, offset=0),
                service="mapper",
            )
            await record_received(
                c,
                invoice_event("acme", 1, "2026-11-02T10:00:00Z"),
                Coordinates(topic="t", partition=0, offset=1),
                service="mapper",
            )
        assert (
            await conn.fetchval("SELECT count(*) FROM records WHERE record_key = 'acme:invoice:1'")
            == 2
        )
    finally:
        await pool.close()
        await conn.close()


async def test_a_dead_lettered_record_is_marked_failed_with_a_reason(db_url):
    pool = await create_pool(db_url)
    try:
        async with pool.acquire() as conn:
            await record_received(
                conn,
                invoice_event("acme", 5),
                Coordinates(topic="t", partition=0, offset=0),
                service="mapper",
            )
            assert await mark_dead_lettered(conn, "acme:invoice:5", "poster", "KeyError: 'x'")
            assert not await mark_dead_lettered(conn, "acme:invoice:5", "poster", "again")
            assert not await mark_dead_lettered(conn, "acme:invoice:404", "poster", "none")
            row = await conn.fetchrow(
                "SELECT state, last_error FROM records WHERE record_key = 'acme:invoice:5'"
            )
            events = [
                r["event"] for r in await conn.fetch("SELECT event FROM audit_events ORDER BY id")
            ]
    finally:
        await pool.close()
    assert row is not None
    assert row["state"] == "failed"
    assert "dead letter" in row["last_error"] and "KeyError: 'x'" in row["last_error"]
    assert events == ["received", "failed"]
