"""The poster's background loop that keeps every connection's Deltek reference cache fresh.

Every tick it refreshes, for each connection, the kinds never refreshed or older than the
interval (by the database clock), so a restarted poster catches up at once and several posters
share the work instead of each refreshing on its own timer. A failing connection is logged and
tried again next tick; it never stops the loop or the other connections.
"""

from __future__ import annotations

import asyncio
import logging

from services.poster.jobs import DeltekConnections
from services.poster.metrics import PosterMetrics
from shared.call_context import bound
from shared.db.pool import Pool
from shared.reference.cache import Kind, due_kinds
from shared.reference.refresh import refresh

log = logging.getLogger(__name__)

MAX_TICK_SECONDS = 60.0


class ReferenceRefresher:
    """``run`` until ``stop``; ``refresh_due`` is one tick, for tests and the CLI."""

    def __init__(
        self,
        pool: Pool,
        connections: DeltekConnections,
        metrics: PosterMetrics,
        *,
        interval_seconds: float,
    ) -> None:
        self._pool = pool
        self._connections = connections
        self._metrics = metrics
        self._interval = interval_seconds
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        tick = min(self._interval, MAX_TICK_SECONDS)
        while not self._stopping.is_set():
            await self.refresh_due()
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=tick)
            except TimeoutError:
                continue

    async def refresh_due(self) -> dict[str, dict[Kind, int]]:
        """Refresh what is due for every connection; row counts by connection and kind."""
        done: dict[str, dict[Kind, int]] = {}
        try:
            names = await self._connections.names()
        except Exception:
            log.exception("cannot list connections for the reference refresh")
            return done
        for name in names:
            if self._stopping.is_set():
                break
            try:
                kinds = await due_kinds(self._pool, name, self._interval)
                if not kinds:
                    continue
                with bound(connection=name):
                    client = await self._connections.client_for(name)
                    done[name] = await refresh(self._pool, client, name, kinds)
            except Exception:
                self._metrics.reference_failures.labels(name).inc()
                log.exception("reference refresh failed", extra={"connection": name})
                continue
            for kind, rows in done[name].items():
                self._metrics.reference_rows.labels(name, kind).set(rows)
            log.info("reference data refreshed", extra={"connection": name, "rows": done[name]})
        return done
