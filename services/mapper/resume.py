"""The resume loop: held records go on by themselves once what they wait for appears.

It hears of changes through the mapper's ``ChangeFeed`` (``connector_mappings``, payload: a
connection name), which the mappings import, the Deltek reference refresh, vendor sync, a new
Coupa supplier and ``connections apply`` NOTIFY; on a notification it re-settles that
connection's parked invoices and, once the connection is live, the records a preview-mode run
held back (``previewed``), which then go to Deltek once. A sweep of every connection with such
records runs at start, whenever the LISTEN connection was lost or opened again, and every
``CONNECTOR_MAPPER__RESUME_INTERVAL_SECONDS`` (30 s), covering a lost notification, a change
made by hand, and a dropped LISTEN connection (re-opened on the next pass); a periodic sweep
first marks every held reference snapshot stale, so it resolves against the database as it is.
Every parked version that waits for something is re-mapped (resolution is in memory and cheap);
one still waiting for the same things is left untouched, so sweeps add no audit noise. A sweep
settles at most ``resume_batch`` records of each kind per connection, oldest first.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from services.mapper import repository as repo
from services.mapper.changes import ChangeFeed
from services.mapper.workflow import MapperDeps, Trigger, settle
from shared.outages import LOOP_SETBACKS
from shared.service.waiting import wait_for_event

log = logging.getLogger(__name__)


class ResumeLoop:
    """A ``BackgroundLoop``: ``run`` until ``stop``; a ``changes.Subscriber`` of its own feed."""

    def __init__(
        self, deps: MapperDeps, *, database_url: str, interval_seconds: float, batch: int
    ) -> None:
        self._deps = deps
        self._interval = interval_seconds
        self._batch = batch
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._pending: set[str] = set()
        self._sweep_all = True
        # The snapshots first: they must be stale before this loop re-settles with them.
        self._feed = ChangeFeed(database_url, (deps.references, self))

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def changed(self, connection: str) -> None:
        self._pending.add(connection)
        self._wake.set()

    def changed_all(self) -> None:
        self._sweep_all = True
        self._wake.set()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                await self._feed.ensure()
                self._wake.clear()
                sweep_all, self._sweep_all = self._sweep_all, False
                names, self._pending = self._pending, set()
                try:
                    await self._sweep(None if sweep_all else sorted(names))
                except LOOP_SETBACKS as exc:
                    log.warning(
                        "resume sweep failed; next pass retries", extra={"error": repr(exc)}
                    )
                if self._pending or self._sweep_all:
                    continue  # notified while sweeping
                if not await wait_for_event(self._wake, self._interval):
                    self._sweep_all = True
                    self._deps.references.changed_all()
        finally:
            await self._feed.close()

    async def _sweep(self, connections: list[str] | None) -> None:
        """Re-settle the waiting parked invoices of ``connections`` (all when None)."""
        pool = self._deps.pool
        if connections is None:
            async with pool.acquire() as conn:
                connections = await repo.waiting_connections(conn)
        for name in connections:
            async with pool.acquire() as conn:
                settings = await self._deps.settings_for(conn, name)
                ids = await repo.parked_waiting(conn, name, self._batch)
                if settings is not None and settings.mode == "live":
                    ids += await repo.previewed(conn, name, self._batch)
            for record_id in ids:
                if self._stopping.is_set():
                    return
                try:
                    async with pool.acquire() as conn:
                        source, trace_id = await repo.parked_trace(conn, record_id)
                        trigger = Trigger(source, trace_id or uuid.uuid4().hex, event="resumed")
                        await settle(self._deps, conn, record_id, trigger)
                except LOOP_SETBACKS:
                    raise  # an outage: end this pass, the next one retries
                except Exception:
                    # One record's bug must not stop the others from going on.
                    log.exception("resuming a parked invoice failed", extra={"id": record_id})
