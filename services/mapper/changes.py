"""The mapper's ear on ``connector_mappings``: one LISTEN connection, told to each subscriber.

Every writer of maps, of the Deltek reference cache, of a connection's settings, and the
handler on a new Coupa supplier, NOTIFY the channel with the connection's name in the
transaction that makes the change, so a listener hears of every committed change. What it
cannot hear is a change made while it was not listening: so whenever the LISTEN connection is
opened (first or again) or lost, subscribers are told that anything may have changed.

Subscribers are told in the order given, synchronously, so the reference snapshots are marked
stale before the resume loop wakes to re-settle records with them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import asyncpg

from shared.mappings import CHANNEL
from shared.outages import LOOP_SETBACKS

log = logging.getLogger(__name__)


class Subscriber(Protocol):
    def changed(self, connection: str) -> None:
        """What ``connection`` resolves against changed."""

    def changed_all(self) -> None:
        """Changes of any connection may have gone unheard."""


class ChangeFeed:
    """The LISTEN connection, opened by :meth:`ensure` and closed by :meth:`close`."""

    def __init__(self, database_url: str, subscribers: Sequence[Subscriber]) -> None:
        self._database_url = database_url
        self._subscribers = tuple(subscribers)
        self._listener: asyncpg.Connection | None = None

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.is_closed()

    async def ensure(self) -> bool:
        """Listen if not listening yet (or any more); whether it listens now."""
        if self.listening:
            return True
        try:
            listener = await asyncpg.connect(self._database_url)
            await listener.add_listener(CHANNEL, self._notified)
        except LOOP_SETBACKS as exc:
            log.warning("cannot LISTEN for mapping changes yet", extra={"error": repr(exc)})
            return False
        listener.add_termination_listener(self._lost)
        self._listener = listener
        self._tell_all()  # whatever changed before LISTEN took effect was not heard
        return True

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.remove_termination_listener(self._lost)
            await listener.close()

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        for subscriber in self._subscribers:
            subscriber.changed(str(payload))

    def _lost(self, _conn: object) -> None:
        log.warning("the LISTEN connection for mapping changes was lost")
        self._listener = None
        self._tell_all()

    def _tell_all(self) -> None:
        for subscriber in self._subscribers:
            subscriber.changed_all()
