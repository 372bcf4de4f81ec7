"""``Coalescer``: keys asked for while a read is in flight go out together in the next read."""

from __future__ import annotations

import asyncio

import pytest

from shared.coalesce import Coalescer


class Reads:
    """A read that waits for the test to let it answer, and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[list[int]] = []
        self.gate = asyncio.Event()
        self.failing: set[int] = set()

    async def __call__(self, keys: list[int]) -> dict[int, str]:
        self.asked.append(keys)
        await self.gate.wait()
        if self.failing & set(keys):
            raise RuntimeError("ledger down")
        return {key: f"v{key}" for key in keys if key % 2 == 0}


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_first_key_goes_at_once_and_later_ones_wait_together() -> None:
    reads = Reads()
    coalescer = Coalescer(reads, max_keys=10, missing=lambda: "none")
    first = asyncio.create_task(coalescer.get(2))
    await settle()
    assert reads.asked == [[2]]
    later = [asyncio.create_task(coalescer.get(key)) for key in (4, 5, 4)]
    await settle()
    assert reads.asked == [[2]]  # still in flight: nothing more sent
    reads.gate.set()
    assert await first == "v2"
    assert [await task for task in later] == ["v4", "none", "v4"]
    assert reads.asked == [[2], [4, 5]]  # one read for all three, the repeated key once


async def test_a_batch_holds_at_most_max_keys() -> None:
    reads = Reads()
    coalescer = Coalescer(reads, max_keys=2, missing=lambda: "none")
    blocker = asyncio.create_task(coalescer.get(0))
    await settle()
    tasks = [asyncio.create_task(coalescer.get(key)) for key in (2, 4, 6)]
    await settle()
    reads.gate.set()
    await asyncio.gather(blocker, *tasks)
    assert reads.asked == [[0], [2, 4], [6]]


async def test_a_failed_read_fails_its_batch_only() -> None:
    reads = Reads()
    coalescer = Coalescer(reads, max_keys=1, missing=lambda: "none")
    reads.failing = {2}
    doomed = asyncio.create_task(coalescer.get(2))
    await settle()
    spared = asyncio.create_task(coalescer.get(4))
    await settle()
    reads.gate.set()
    with pytest.raises(RuntimeError, match="ledger down"):
        await doomed
    assert await spared == "v4"  # the next batch is read after the failure
    assert await coalescer.get(6) == "v6"


async def test_a_caller_giving_up_leaves_the_others_their_answer() -> None:
    reads = Reads()
    coalescer = Coalescer(reads, max_keys=10, missing=lambda: "none")
    blocker = asyncio.create_task(coalescer.get(0))
    await settle()
    quitter = asyncio.create_task(coalescer.get(2))
    stayer = asyncio.create_task(coalescer.get(2))
    await settle()
    quitter.cancel()
    reads.gate.set()
    assert await stayer == "v2"
    await blocker
    assert quitter.cancelled()
