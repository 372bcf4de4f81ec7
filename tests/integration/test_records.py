"""The records repository on a real Postgres: one row per version, every delivery audited."""

from __future__ import annotations

import asyncpg
import pytest

from shared.db.pool import create_pool
from shared.kafka.envelope import Coordinates
from shared.logs import register_secret
from shared.records import append_audit, mark_dead_lettered, record_received, transition
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


async def test_reasons_and_audit_details_are_stored_redacted_and_bounded(db_url):
    """Exception texts and Deltek's messages may quote a credential and run to megabytes."""
    secret = "records-held-s3cret-value"
    register_secret(secret)
    huge = f"Deltek answered 400: {secret} Authorization: Bearer tok-abc " + "<p>page</p>" * 50_000
    pool = await create_pool(db_url)
    try:
        async with pool.acquire() as conn:
            record_id, _ = await record_received(
                conn,
                invoice_event("acme", 6),
                Coordinates(topic="t", partition=0, offset=0),
                service="mapper",
            )
            await transition(
                conn,
                record_id=record_id,
                record_key="acme:invoice:6",
                state="parked",
                service="poster",
                event="parked",
                details={"deltek_message": huge, "nested": [{"error": secret}]},
                reason=huge,
            )
            await append_audit(
                conn,
                record_key="acme:invoice:6",
                service="poster",
                event="waiting",
                details={"reason": huge},
            )
            row = await conn.fetchrow(
                "SELECT parked_reason, last_error FROM records WHERE id = $1", record_id
            )
            details = [
                r["details"]
                for r in await conn.fetch(
                    "SELECT details FROM audit_events WHERE event <> 'received' ORDER BY id"
                )
            ]
    finally:
        await pool.close()
    assert row is not None
    stored = [row["parked_reason"], row["last_error"], str(details)]
    assert not any(secret in text or "tok-abc" in text for text in stored)
    assert row["parked_reason"] == row["last_error"]
    assert 1990 < len(row["last_error"]) <= 2000
    assert row["last_error"].startswith("Deltek answered 400: *** Authorization: Bearer ***")
    assert row["last_error"].endswith(" more characters)")
    assert 1990 < len(details[0]["deltek_message"]) <= 2000
    assert details[0]["nested"] == [{"error": "***"}]
    assert 1990 < len(details[1]["reason"]) <= 2000
