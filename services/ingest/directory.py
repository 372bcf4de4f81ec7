"""What ingest needs to know about connections, as one seam the app is given, and the Call Out
endpoints' guarded view of it.

The production directory reads the encrypted connections store; tests hand in one that points
at a simulator. Either way ingest never touches credentials storage itself.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from shared.connections.model import NAME_PATTERN
from shared.coupa.client import CoupaClient

# How long a name found to be no connection is answered as such without asking again: a
# connection applied after a push named it is found within this. ``connections apply`` also
# NOTIFYs its change, but a LISTEN connection is not worth keeping for a wait this short.
MISS_SECONDS = 5.0
# Look-ups per second of names not known to be connections, across all names.
LOOKUPS_PER_SECOND = 20

_NAME = re.compile(NAME_PATTERN)


class CoupaConnections(Protocol):
    async def names(self) -> list[str]:
        """Every configured connection."""
        ...

    async def callout_secrets(self, name: str) -> list[str] | None:
        """The active Call Out secrets of ``name``; None when no such connection exists."""
        ...

    async def poll_interval(self, name: str) -> float:
        """Seconds between two polls of ``name``."""
        ...

    async def coupa(self, name: str) -> CoupaClient:
        """A started client for ``name``'s Coupa instance, shared by every caller."""
        ...


class CalloutDirectory:
    """The Call Out secrets of the connection a request names, at no cost for names that are
    no connection: anyone can send any name, and a refusal must cost less than the request.

    A name that cannot be a connection (``NAME_PATTERN``) is refused without a look-up. One
    looked up and not found is remembered for ``miss_seconds``. Names not known to be
    connections are looked up at most ``lookups_per_second`` times a second all together;
    beyond that they are answered as unknown without a query. So a flood of random names costs
    at most that many indexed queries a second, and the misses kept (oldest dropped first) are
    at most ``lookups_per_second * (miss_seconds + 1)``. Connections are known from the first
    call on (one ``names()``) and from every successful look-up, and are always looked up (the
    store keeps them fresh, ``shared/connections/runtime.py``): a flood never refuses them. Only
    a connection created during a flood may wait for the flood to end; the poll finds its
    invoices meanwhile.
    """

    def __init__(
        self,
        directory: Callable[[], CoupaConnections],
        *,
        miss_seconds: float = MISS_SECONDS,
        lookups_per_second: int = LOOKUPS_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        self._miss_seconds = miss_seconds
        self._lookups_per_second = lookups_per_second
        self._clock = clock
        self._known: set[str] | None = None  # None until the first names() has answered
        self._misses: OrderedDict[str, float] = OrderedDict()  # name -> when, oldest first
        self._second = (0.0, 0)  # when the current second began, look-ups spent in it

    async def callout_secrets(self, name: str) -> list[str] | None:
        """The active Call Out secrets of ``name``; None when it is no connection, has no
        secret, or is not one that can be looked up now (all answered alike)."""
        if self._known is None:
            self._known = set(await self._directory().names())
        if name not in self._known and not self._may_look_up(name):
            return None
        secrets = await self._directory().callout_secrets(name)
        if secrets:
            self._known.add(name)
            return secrets
        self._known.discard(name)
        self._misses[name] = self._clock()
        return None

    def _may_look_up(self, name: str) -> bool:
        """Whether a name not known to be a connection is worth a query now; spends one."""
        now = self._clock()
        while self._misses and now - next(iter(self._misses.values())) >= self._miss_seconds:
            self._misses.popitem(last=False)
        if name in self._misses or not _NAME.fullmatch(name):
            return False
        began, spent = self._second
        if now - began >= 1.0:
            began, spent = now, 0
        if spent >= self._lookups_per_second:
            return False
        self._second = (began, spent + 1)
        return True
