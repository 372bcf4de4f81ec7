"""The scheduled poll that backfills whatever a Call Out missed.

Per connection and kind, the cursor is the newest ``updated-at`` read so far, but never later
than the start of the walk that read it. Each poll asks Coupa for everything changed at or after
``cursor - overlap`` (same-second and slightly late writes are re-read, never skipped; the inbox
makes the re-read harmless) and moves the cursor only after the whole result set was accepted: a
failure half-way leaves it where it was, so the next poll starts over instead of skipping the
unread pages. One replica polls a connection at a time (a Postgres advisory lock), however many
ingest replicas run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from services.ingest.directory import CoupaConnections
from services.ingest.inbox import Kind, accept
from shared.db.pool import Connection, Pool
from shared.http.errors import HttpError
from shared.outages import OUTAGES
from shared.service.waiting import wait_for_event

log = logging.getLogger(__name__)

# Invoices voided after approval are read too: the mapper flags them if they were posted.
INVOICE_STATUSES = ("approved", "voided")
# A poll that fails with one of these is tried again on its next turn; the cursor stays put.
_POLL_FAILURES: tuple[type[BaseException], ...] = (HttpError, *OUTAGES)


async def read_cursor(conn: Connection, connection: str, kind: Kind) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT cursor_at FROM poll_cursors WHERE connection = $1 AND kind = $2", connection, kind
    )
    return value


async def write_cursor(conn: Connection, connection: str, kind: Kind, cursor: datetime) -> None:
    await conn.execute(
        """INSERT INTO poll_cursors (connection, kind, cursor_at) VALUES ($1, $2, $3)
           ON CONFLICT (connection, kind)
           DO UPDATE SET cursor_at = GREATEST(poll_cursors.cursor_at, EXCLUDED.cursor_at),
                         updated_at = now()""",
        connection,
        kind,
        cursor,
    )


class Poller:
    """Polls every connection on its interval; ``on_accepted`` is called when anything is new."""

    def __init__(
        self,
        pool: Pool,
        directory: CoupaConnections,
        *,
        on_accepted: Callable[[], None],
        overlap: timedelta = timedelta(minutes=5),
        first_lookback: timedelta = timedelta(days=30),
    ) -> None:
        self._pool = pool
        self._directory = directory
        self._on_accepted = on_accepted
        self._overlap = overlap
        self._first_lookback = first_lookback
        self._next_due: dict[str, float] = {}
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Poll what is due, forever: a failed poll is logged and tried again, never fatal,
        since the same process answers Coupa's Call Outs."""
        while not self._stopping.is_set():
            try:
                for name in await self._directory.names():
                    if self._stopping.is_set():
                        return
                    if time.monotonic() >= self._next_due.get(name, 0.0):
                        await self._poll_guarded(name)
            except OUTAGES as exc:
                log.warning("poll: database unreachable", extra={"error": repr(exc)})
            await wait_for_event(self._stopping, 1.0)

    async def _poll_guarded(self, name: str) -> None:
        interval = await self._directory.poll_interval(name)
        self._next_due[name] = time.monotonic() + interval
        try:
            accepted = await self.poll(name)
        except _POLL_FAILURES as exc:
            log.warning(
                "poll failed; cursor unchanged", extra={"connection": name, "error": str(exc)}
            )
            return
        except Exception:
            log.exception("poll failed unexpectedly; cursor unchanged", extra={"connection": name})
            return
        if accepted:
            self._on_accepted()

    async def poll(self, name: str) -> int:
        """One poll of both kinds for ``name``; returns how many new object versions it accepted."""
        async with self._pool.acquire() as conn:
            locked = await conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtext('connector-poll:' || $1))", name
            )
            if not locked:
                return 0
            try:
                return await self._poll_kind(conn, name, "invoice") + await self._poll_kind(
                    conn, name, "supplier"
                )
            finally:
                # A broken connection took its session's lock with it: nothing left to release.
                with contextlib.suppress(*OUTAGES):
                    await conn.execute(
                        "SELECT pg_advisory_unlock(hashtext('connector-poll:' || $1))", name
                    )

    async def _poll_kind(self, conn: Connection, name: str, kind: Kind) -> int:
        cursor = await read_cursor(conn, name, kind)
        started = datetime.now(UTC)
        since = (cursor - self._overlap) if cursor else started - self._first_lookback
        client = await self._directory.coupa(name)
        newest = cursor
        accepted = 0
        objects = (
            client.iter_invoices(since=since, status=INVOICE_STATUSES)
            if kind == "invoice"
            else client.iter_suppliers(since=since)
        )
        async for obj in objects:
            if await accept(conn, name, kind, obj.raw, "poll"):
                accepted += 1
            if obj.updated_at is not None and (newest is None or obj.updated_at > newest):
                newest = obj.updated_at
        if newest is not None:
            # A record that changed during the walk, behind its position, was not read again
            # (shared/coupa/paging.py); its new updated-at is after ``started``, which records
            # read later in a long walk may be well past. ``started`` is our clock and
            # updated-at Coupa's: the overlap covers a skew up to its length.
            await write_cursor(conn, name, kind, min(newest, started))
        if accepted:
            log.info("poll accepted", extra={"connection": name, "kind": kind, "new": accepted})
        return accepted
