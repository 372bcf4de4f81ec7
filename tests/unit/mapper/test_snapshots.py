"""The in-memory reference snapshots: loaded once, reloaded on a change, a lost feed or age."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.mapper.snapshots import ReferenceSnapshots
from shared.reference.view import Reference, Vendor

NO_DB: Any = None  # the loader below never touches the database connection it is given


class Loads:
    """A loader that counts its calls by connection, each load a new ``Reference``."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def __call__(self, _conn: Any, connection: str) -> Reference:
        self.count[connection] = self.count.get(connection, 0) + 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise OSError("postgres is down")
        n = self.count[connection]
        return Reference.build(vendors=[Vendor(f"{connection}-{n}", None, "Firm", "A")])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def loads() -> Loads:
    return Loads()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def snapshots(loads: Loads, clock: Clock) -> ReferenceSnapshots:
    return ReferenceSnapshots(ttl_seconds=5.0, load=loads, clock=clock)


def firm(reference: Reference) -> str:
    [client_id] = reference.vendors_by_client
    return client_id


async def test_a_connection_is_loaded_once_and_then_served_from_memory(snapshots, loads):
    first = await snapshots.get(NO_DB, "acme")
    assert [firm(await snapshots.get(NO_DB, "acme")) for _ in range(3)] == ["acme-1"] * 3
    assert await snapshots.get(NO_DB, "acme") is first
    assert loads.count == {"acme": 1}


async def test_a_change_reloads_only_its_own_connection(snapshots, loads):
    await snapshots.get(NO_DB, "acme")
    await snapshots.get(NO_DB, "beta")
    snapshots.changed("beta")
    assert firm(await snapshots.get(NO_DB, "acme")) == "acme-1"
    assert firm(await snapshots.get(NO_DB, "beta")) == "beta-2"
    assert loads.count == {"acme": 1, "beta": 2}


async def test_changes_that_may_have_been_missed_reload_every_connection(snapshots, loads):
    await snapshots.get(NO_DB, "acme")
    await snapshots.get(NO_DB, "beta")
    snapshots.changed_all()
    await snapshots.get(NO_DB, "acme")
    await snapshots.get(NO_DB, "beta")
    assert loads.count == {"acme": 2, "beta": 2}


async def test_a_snapshot_older_than_its_time_to_live_is_reloaded(snapshots, loads, clock):
    await snapshots.get(NO_DB, "acme")
    clock.now += 4.9
    await snapshots.get(NO_DB, "acme")
    assert loads.count == {"acme": 1}
    clock.now += 0.1
    assert firm(await snapshots.get(NO_DB, "acme")) == "acme-2"


async def test_no_time_to_live_means_every_use_reloads(loads, clock):
    snapshots = ReferenceSnapshots(ttl_seconds=0, load=loads, clock=clock)
    await snapshots.get(NO_DB, "acme")
    await snapshots.get(NO_DB, "acme")
    assert loads.count == {"acme": 2}


async def test_concurrent_users_of_a_connection_wait_for_one_load(snapshots, loads):
    loads.gate = asyncio.Event()
    waiting = [asyncio.create_task(snapshots.get(NO_DB, "acme")) for _ in range(10)]
    other = asyncio.create_task(snapshots.get(NO_DB, "beta"))
    await asyncio.sleep(0)
    assert loads.count == {"acme": 1, "beta": 1}  # beta is not queued behind acme
    loads.gate.set()
    got = await asyncio.gather(*waiting, other)
    assert {id(reference) for reference in got[:10]} == {id(got[0])}
    assert loads.count == {"acme": 1, "beta": 1}


async def test_a_change_heard_during_a_load_makes_its_result_stale_at_once(snapshots, loads):
    loads.gate = asyncio.Event()
    mark = snapshots.mark()
    loading = asyncio.create_task(snapshots.get(NO_DB, "acme"))
    await asyncio.sleep(0)
    snapshots.changed("acme")  # committed after the load read the tables
    loads.gate.set()
    assert firm(await loading) == "acme-1"  # good enough for the message that asked
    assert snapshots.changed_since("acme", mark)
    assert not snapshots.changed_since("beta", mark)
    assert firm(await snapshots.get(NO_DB, "acme")) == "acme-2"


async def test_a_failed_load_keeps_nothing_and_the_next_use_tries_again(snapshots, loads):
    loads.fail = True
    with pytest.raises(OSError, match="down"):
        await snapshots.get(NO_DB, "acme")
    loads.fail = False
    assert firm(await snapshots.get(NO_DB, "acme")) == "acme-2"
