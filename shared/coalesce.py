"""One read for many callers: keys asked for while a read is in flight go out together next.

A poster with many jobs in flight asks Deltek's ledger about one invoice per job. Sent one by
one, that is a call per invoice; gathered, it is one call per round trip, however many jobs
wait. The first key of a quiet moment is read at once (no timer adds latency), and the batch
grows only as fast as the reads are slow: under a burst each read carries what arrived during
the previous one, up to ``max_keys``.

A failed read fails every caller of its batch with the same error, and each decides as it
would for its own read (the poster's jobs retry). A caller that gives up (cancelled) leaves
the batch for the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    """``await coalescer.get(key)``; ``read(keys)`` answers a mapping, ``missing`` the rest."""

    def __init__(
        self,
        read: Callable[[list[K]], Awaitable[Mapping[K, V]]],
        *,
        max_keys: int,
        missing: Callable[[], V],
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._read = read
        self._max_keys = max_keys
        self._missing = missing
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def get(self, key: K) -> V:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_all())
        return await future

    async def _read_all(self) -> None:
        """Read batches until nobody waits; keys arriving meanwhile join the next batch."""
        while self._waiting:
            keys = list(self._waiting)[: self._max_keys]
            batch = {key: self._waiting.pop(key) for key in keys}
            try:
                found = await self._read(keys)
            except asyncio.CancelledError:  # shutting down: nobody is left waiting forever
                for futures in (*batch.values(), *self._waiting.values()):
                    for future in futures:
                        future.cancel()
                self._waiting.clear()
                raise
            except Exception as exc:
                for futures in batch.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                continue
            for key, futures in batch.items():
                value = found[key] if key in found else self._missing()
                for future in futures:
                    if not future.done():
                        future.set_result(value)
