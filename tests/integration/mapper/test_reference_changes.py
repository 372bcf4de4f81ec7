"""The mapper's in-memory reference data on a real Postgres: kept between messages, reloaded as
soon as a change is heard, and converging when a notification was lost.

Snapshots here live 10 minutes and the resume loop's sweep is 10 minutes away, so only the
notifications (or the LISTEN connection coming back) can make a change visible in time.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from services.mapper.changes import ChangeFeed
from services.mapper.resume import ResumeLoop
from services.mapper.snapshots import ReferenceSnapshots
from shared.db.pool import Connection
from shared.kafka.envelope import Envelope
from shared.mappings import notify_changed, upsert_mappings
from shared.messages import PostApInvoice
from shared.reference.cache import TABLES, load_reference
from shared.reference.view import Reference
from tests.integration.mapper.conftest import CONNECTION, STRANGER, Rig, invoice_envelope
from tests.support import eventually

pytestmark = pytest.mark.integration

LONG = 600.0
OTHER = "beta"
_LISTENER_PIDS = """SELECT array_agg(pid) FROM pg_stat_activity
                     WHERE datname = current_database() AND query ILIKE 'LISTEN %'"""


class CountingLoads:
    """``load_reference``, counting loads by connection."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}

    async def __call__(self, conn: Connection, connection: str) -> Reference:
        self.count[connection] = self.count.get(connection, 0) + 1
        return await load_reference(conn, connection)


@pytest.fixture
def loads() -> CountingLoads:
    return CountingLoads()


@pytest.fixture
def held(rig: Rig, loads: CountingLoads) -> Rig:
    """The rig with snapshots that only a heard change (or a lost feed) can make stale."""
    references = ReferenceSnapshots(ttl_seconds=LONG, load=loads)
    rig.deps = dataclasses.replace(rig.deps, references=references)
    return rig


@asynccontextmanager
async def resuming(rig: Rig, db_url: str) -> AsyncIterator[ResumeLoop]:
    """The resume loop, whose feed tells the rig's snapshots what changed, running."""
    loop = ResumeLoop(rig.deps, database_url=db_url, interval_seconds=LONG, batch=100)
    task = asyncio.create_task(loop.run())
    try:
        await eventually(lambda: listening(rig), what="the LISTEN connection")
        yield loop
    finally:
        loop.stop()
        await task


async def listening(rig: Rig) -> bool:
    return bool(await rig.pool.fetchval(_LISTENER_PIDS))


async def state(rig: Rig, key: str) -> str:
    return str(
        await rig.pool.fetchval(
            "SELECT state FROM records WHERE record_key = $1 ORDER BY id DESC LIMIT 1", key
        )
    )


def vendor_sent(rig: Rig, key: str) -> str:
    [sent] = [envelope for _, envelope in rig.sink.sent if envelope.key == key]
    return PostApInvoice.model_validate(sent.payload).vendor


async def map_stranger(rig: Rig, vendor: str, connection: str = CONNECTION) -> None:
    async with rig.pool.acquire() as conn:
        await upsert_mappings(conn, connection, "supplier", [("900", vendor)])


async def test_a_map_added_or_changed_is_used_by_the_next_message_without_a_restart(
    held, db_url, loads
):
    parked = invoice_envelope(1, supplier=STRANGER)
    async with resuming(held, db_url):
        await held.deliver(parked)
        assert await state(held, parked.key) == "parked"

        mark = held.deps.references.mark()
        await map_stranger(held, "NKL0001")
        await eventually(lambda: _heard(held, mark), what="the notification")
        nxt = invoice_envelope(2, supplier=STRANGER)
        await held.deliver(nxt)
        assert (await state(held, nxt.key), vendor_sent(held, nxt.key)) == ("mapped", "NKL0001")
        # The parked one went on by itself, against the new map too.
        await eventually(lambda: _is(held, parked.key, "mapped"), within=10, what="resume")
        assert vendor_sent(held, parked.key) == "NKL0001"

        mark = held.deps.references.mark()
        await map_stranger(held, "NWS0001")
        await eventually(lambda: _heard(held, mark), what="the notification")
        last = invoice_envelope(3, supplier=STRANGER)
        await held.deliver(last)
        assert vendor_sent(held, last.key) == "NWS0001"
    # One load at the start, one after each of the two changes; none per message.
    assert loads.count[CONNECTION] == 3


async def test_a_change_whose_notification_was_lost_is_seen_once_listen_is_back(held, db_url):
    parked = invoice_envelope(1, supplier=STRANGER)
    async with resuming(held, db_url):
        await held.deliver(parked)
        assert await state(held, parked.key) == "parked"
        [pid] = await held.pool.fetchval(_LISTENER_PIDS)
        # Written by hand, no NOTIFY: as if the notification was sent while nobody listened.
        await held.pool.execute(
            "INSERT INTO mappings (connection, kind, coupa_value, deltek_value) "
            "VALUES ($1, 'supplier', '900', 'NKL0001')",
            CONNECTION,
        )
        assert await held.pool.fetchval("SELECT pg_terminate_backend($1)", pid)
        # The feed hears its connection go, listens again, and reloads and sweeps everything.
        await eventually(lambda: _is(held, parked.key, "mapped"), within=10, what="convergence")
        [again] = await held.pool.fetchval(_LISTENER_PIDS)
        assert again != pid
        nxt = invoice_envelope(2, supplier=STRANGER)
        await held.deliver(nxt)
    assert (vendor_sent(held, parked.key), vendor_sent(held, nxt.key)) == ("NKL0001", "NKL0001")


async def test_each_connection_has_its_own_snapshot(held, db_url, loads):
    await _copy_connection(held.pool, CONNECTION, OTHER)
    ours, theirs = invoice_envelope(1, supplier=STRANGER), _of(OTHER, invoice_envelope(2))
    async with resuming(held, db_url):
        await held.deliver(ours)
        await held.deliver(theirs)
        mark = held.deps.references.mark()
        await map_stranger(held, "NKL0001", OTHER)
        await eventually(lambda: _heard(held, mark, OTHER), what="the notification")
        assert not held.deps.references.changed_since(CONNECTION, mark)
        mine_again = invoice_envelope(3, supplier=STRANGER)
        theirs_too = _of(OTHER, invoice_envelope(4, supplier=STRANGER))
        await held.deliver(mine_again)
        await held.deliver(theirs_too)
    assert await state(held, mine_again.key) == "parked"  # beta's map is beta's alone
    assert vendor_sent(held, theirs_too.key) == "NKL0001"
    assert loads.count == {CONNECTION: 1, OTHER: 2}


async def test_a_record_parked_while_a_change_was_heard_is_settled_again_at_once(rig, db_url):
    """The resume loop, woken by the change, may have looked for parked records before this
    one was committed; the handler settles it again rather than leave it for the next sweep."""
    references: ReferenceSnapshots

    async def load_then_hear_a_change(conn: Connection, connection: str) -> Reference:
        loaded = await load_reference(conn, connection)
        if not loads_done:
            loads_done.append(connection)
            async with rig.pool.acquire() as other:
                await upsert_mappings(other, connection, "supplier", [("900", "NKL0001")])
            references.changed(connection)  # heard after the load had read the old maps
        return loaded

    loads_done: list[str] = []
    references = ReferenceSnapshots(ttl_seconds=LONG, load=load_then_hear_a_change)
    rig.deps = dataclasses.replace(rig.deps, references=references)
    envelope = invoice_envelope(1, supplier=STRANGER)
    await rig.deliver(envelope)
    assert await state(rig, envelope.key) == "mapped"
    events = await rig.pool.fetch("SELECT event FROM audit_events ORDER BY id")
    assert [e["event"] for e in events] == ["received", "parked", "mapped"]


async def _heard(rig: Rig, mark: int, connection: str = CONNECTION) -> bool:
    return rig.deps.references.changed_since(connection, mark)


async def _is(rig: Rig, key: str, wanted: str) -> bool:
    return await state(rig, key) == wanted


def _of(connection: str, envelope: Envelope) -> Envelope:
    coupa_id = envelope.key.rpartition(":")[2]
    return envelope.model_copy(
        update={"connection": connection, "key": f"{connection}:invoice:{coupa_id}"}
    )


async def _copy_connection(pool: asyncpg.Pool, source: str, target: str) -> None:
    """``target``: the settings and Deltek reference cache of ``source``, under its own name."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO connections (name, settings) "
            "SELECT $2, settings FROM connections WHERE name = $1",
            source,
            target,
        )
        for table in TABLES.values():
            columns = ", ".join(table.columns)
            await conn.execute(
                f"INSERT INTO {table.name} (connection, {columns}) "
                f"SELECT $2, {columns} FROM {table.name} WHERE connection = $1",
                source,
                target,
            )


class Heard:
    """A feed subscriber that writes down what it is told."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def changed(self, connection: str) -> None:
        self.said.append(connection)

    def changed_all(self) -> None:
        self.said.append("*")


async def test_the_feed_says_everything_may_have_changed_whenever_listen_starts_or_stops(
    db_url, rig
):
    heard = Heard()
    feed = ChangeFeed(db_url, (heard,))
    try:
        assert await feed.ensure()
        assert heard.said == ["*"]  # what changed before LISTEN took effect was not heard
        async with rig.pool.acquire() as conn, conn.transaction():
            await notify_changed(conn, CONNECTION)
        await eventually(lambda: _said(heard, ["*", CONNECTION]), what="the notification")
        [pid] = await rig.pool.fetchval(_LISTENER_PIDS)
        await rig.pool.execute("SELECT pg_terminate_backend($1)", pid)
        await eventually(lambda: _said(heard, ["*", CONNECTION, "*"]), what="the loss")
        assert not feed.listening
        assert await feed.ensure()
        assert heard.said == ["*", CONNECTION, "*", "*"]
    finally:
        await feed.close()
    assert heard.said == ["*", CONNECTION, "*", "*"]  # closing on purpose is no loss


async def _said(heard: Heard, expected: list[str]) -> bool:
    return heard.said == expected
