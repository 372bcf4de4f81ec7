"""The reference data each connection resolves against, held in memory between messages.

Rebuilding the view (the Deltek reference cache and the explicit maps, ``load_reference``) for
every message was most of the mapper's CPU, though the data changes a few times a day. So each
connection's :class:`Reference` is loaded once and kept until something says it may be stale:

* a notification on ``connector_mappings`` for the connection (every writer of maps and of the
  reference cache sends one in its own transaction) -> :meth:`changed`;
* the LISTEN connection lost or opened again, or a full sweep of the resume loop, when a
  notification may have been missed -> :meth:`changed_all`;
* its age passing ``ttl_seconds``: the backstop for a change made by hand without a notification.

A change heard while a load is running makes that load's result stale at once, so it is used
for the message that asked for it and reloaded for the next one. Readers get an immutable
``Reference``; concurrent handlers of one connection wait for a single load, and handlers of
other connections are not held up by it.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shared.db.pool import Connection
from shared.reference.cache import load_reference
from shared.reference.view import Reference

Loader = Callable[[Connection, str], Awaitable[Reference]]


@dataclass(frozen=True)
class _Held:
    reference: Reference
    loaded_at: float  # monotonic seconds when the load began
    as_of: int  # the change count when the load began


class ReferenceSnapshots:
    """Per connection, the last loaded ``Reference`` and whether it can still be trusted."""

    def __init__(
        self,
        *,
        ttl_seconds: float,
        load: Loader = load_reference,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._load = load
        self._clock = clock
        self._held: dict[str, _Held] = {}
        self._loading: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # Changes heard so far, and the count at the last change of each connection / of all.
        self._changes = 0
        self._changed_at: dict[str, int] = {}
        self._all_changed_at = 0

    def changed(self, connection: str) -> None:
        """The maps or reference data of ``connection`` changed: reload it on its next use."""
        self._changes += 1
        self._changed_at[connection] = self._changes

    def changed_all(self) -> None:
        """A change of any connection may have gone unheard: reload each on its next use."""
        self._changes += 1
        self._all_changed_at = self._changes

    def mark(self) -> int:
        """A point in the stream of changes, to ask :meth:`changed_since` about later."""
        return self._changes

    def changed_since(self, connection: str, mark: int) -> bool:
        """Whether a change that concerns ``connection`` was heard after ``mark``."""
        return max(self._changed_at.get(connection, 0), self._all_changed_at) > mark

    async def get(self, conn: Connection, connection: str) -> Reference:
        """The connection's reference, loaded through ``conn`` only when the held one is stale."""
        held = self._held.get(connection)
        if held is not None and self._trusted(connection, held):
            return held.reference
        async with self._loading[connection]:
            held = self._held.get(connection)  # another handler may have loaded it meanwhile
            if held is not None and self._trusted(connection, held):
                return held.reference
            as_of, loaded_at = self._changes, self._clock()
            reference = await self._load(conn, connection)
            self._held[connection] = _Held(reference, loaded_at, as_of)
            return reference

    def _trusted(self, connection: str, held: _Held) -> bool:
        fresh = self._clock() - held.loaded_at < self._ttl
        return fresh and not self.changed_since(connection, held.as_of)
