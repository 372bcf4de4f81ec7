"""The Call Out endpoints' view of the connections: names that are no connection cost no query
more than once in a while, however many arrive; connections are never held back; a connection
applied later is found within the miss period."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.ingest.directory import CalloutDirectory
from shared.coupa.client import CoupaClient

MISS = 5.0
BUDGET = 20


@dataclass
class Store:
    """Connections by name with their Call Out secrets; counts what would be queries."""

    secrets: dict[str, list[str]] = field(default_factory=lambda: {"acme": ["s1"]})
    queries: list[str] = field(default_factory=list)

    async def names(self) -> list[str]:
        self.queries.append("names()")
        return sorted(self.secrets)

    async def callout_secrets(self, name: str) -> list[str] | None:
        self.queries.append(name)
        return self.secrets.get(name)

    async def poll_interval(self, name: str) -> float:
        raise AssertionError("not asked by the Call Out endpoints")

    async def coupa(self, name: str) -> CoupaClient:
        raise AssertionError("not asked by the Call Out endpoints")


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def directory(store: Store, clock: Clock) -> CalloutDirectory:
    return CalloutDirectory(
        lambda: store, miss_seconds=MISS, lookups_per_second=BUDGET, clock=clock
    )


async def test_a_name_that_cannot_be_a_connection_is_never_looked_up():
    store, clock = Store(), Clock()
    callouts = directory(store, clock)
    for name in ("", "Acme", "acme!", "a" * 64, "../acme", "acme\n", "\udcff"):
        assert await callouts.callout_secrets(name) is None
    assert store.queries == ["names()"]


async def test_a_miss_is_remembered_for_the_miss_period_then_asked_again():
    store, clock = Store(), Clock()
    callouts = directory(store, clock)
    for _ in range(100):
        assert await callouts.callout_secrets("globex") is None
    assert store.queries.count("globex") == 1
    store.secrets["globex"] = ["s2"]  # `connections apply` adds it
    clock.now += MISS - 0.1
    assert await callouts.callout_secrets("globex") is None
    clock.now += 0.2
    assert await callouts.callout_secrets("globex") == ["s2"]


async def test_a_flood_of_new_names_costs_at_most_the_budget_a_second():
    store, clock = Store(), Clock()
    callouts = directory(store, clock)
    for second in range(3):
        for number in range(1000):
            assert await callouts.callout_secrets(f"ghost-{second}-{number}") is None
        clock.now += 1.0
    assert len(store.queries) == 1 + 3 * BUDGET
    # What is remembered stays bounded: misses older than the period are dropped.
    clock.now += MISS
    await callouts.callout_secrets("ghost-last")
    assert len(callouts._misses) == 1


async def test_connections_are_looked_up_through_a_flood():
    store, clock = Store(), Clock()
    store.secrets["globex"] = ["s2"]
    callouts = directory(store, clock)
    for number in range(BUDGET):
        await callouts.callout_secrets(f"ghost-{number}")
    # Known from names() on the first call, each connection is asked even with the budget spent.
    assert await callouts.callout_secrets("acme") == ["s1"]
    assert await callouts.callout_secrets("globex") == ["s2"]
    del store.secrets["globex"]  # pruned: refused from now on, like any other name
    assert await callouts.callout_secrets("globex") is None
    assert await callouts.callout_secrets("globex") is None
    assert store.queries.count("globex") == 2


async def test_a_connection_without_call_out_secrets_is_answered_as_none():
    store, clock = Store(), Clock()
    store.secrets["initech"] = []
    callouts = directory(store, clock)
    assert await callouts.callout_secrets("initech") is None
    assert await callouts.callout_secrets("initech") is None
    assert store.queries.count("initech") == 1
