"""The scheduled poll: backfills whatever a Call Out missed, and keeps the PO cache fresh.

It follows three feeds per connection: approved (and voided) invoices and suppliers into the
inbox, purchase orders into the PO cache (``po_cache.py``). Each poll of a feed *lists* what
changed, ids and ``updated-at`` only (``fields``), and fetches in full (``id[in]``, a page of ids
a call) only the versions the connector does not hold: a version seen before costs a few bytes of
listing, never its decoding or its insert again.

Two instants per connection and feed, in ``poll_cursors``:

- ``cursor_at``, the newest ``updated-at`` listed, but never later than the start of the walk
  that listed it. Each poll lists everything changed at or after ``cursor - head margin``.
- ``settled_at``: every change Coupa stamped before it has been listed after it could no longer
  be late. Coupa's clock may be behind ours and a change may be committed after later-stamped
  ones were visible; ``overlap`` is how late such a change may be. Once the stretch between
  ``settled_at`` and ``now - overlap`` is an overlap long, a settle walk lists that stretch once,
  and ``settled_at`` moves to ``now - overlap``. A late change is found at the latest about two
  overlaps after its stamp, as safely as when every poll re-read the whole overlap, while each
  stamp is now listed about twice instead of once every interval.

Both instants move only after their whole walk was taken in: a failure half-way leaves them
where they were, so the next poll starts over instead of skipping the unread pages. The instant
a poll has read every feed to its end is kept per connection in ``coupa_polls``. One replica
polls a connection at a time (a Postgres advisory lock), however many ingest replicas run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from services.ingest import po_cache
from services.ingest.directory import CoupaConnections
from services.ingest.exported import versions_marked_by_us
from services.ingest.inbox import Kind, accept_many, held_versions
from shared.call_context import bound
from shared.coupa.client import CoupaClient
from shared.coupa.paging import Listed
from shared.db.pool import Connection, Pool
from shared.http.errors import HttpError
from shared.outages import OUTAGES
from shared.service.waiting import wait_for_event

log = logging.getLogger(__name__)

# Invoices voided after approval are read too: the mapper flags them if they were posted.
INVOICE_STATUSES = ("approved", "voided")
# A poll that fails with one of these is tried again on its next turn; the cursor stays put.
_POLL_FAILURES: tuple[type[BaseException], ...] = (HttpError, *OUTAGES)


class Feed(Protocol):
    """One kind of Coupa object the poll follows: where Coupa lists it, where it goes."""

    @property
    def kind(self) -> str:
        """Its row in ``poll_cursors``."""
        ...

    @property
    def resource(self) -> str:
        """Its Coupa index, e.g. ``invoices``."""
        ...

    @property
    def filters(self) -> dict[str, str]:
        """What of that index it follows."""
        ...

    async def held(self, conn: Connection, connection: str, listed: Sequence[Listed]) -> set[int]:
        """Ids of the listed objects whose listed version is held already."""
        ...

    async def take(self, conn: Connection, connection: str, bodies: list[dict[str, Any]]) -> int:
        """Keep the new versions fetched; how many were kept."""
        ...


@dataclass(frozen=True)
class InboxFeed:
    """Invoices or suppliers: new versions are accepted into the inbox, to be published."""

    kind: Kind
    resource: str
    filters: dict[str, str]

    async def held(self, conn: Connection, connection: str, listed: Sequence[Listed]) -> set[int]:
        return await held_versions(conn, connection, self.kind, listed)

    async def take(self, conn: Connection, connection: str, bodies: list[dict[str, Any]]) -> int:
        return await accept_many(conn, connection, self.kind, bodies, "poll")


@dataclass(frozen=True)
class InvoiceFeed(InboxFeed):
    """Invoices: a version made by our own export flag counts as held, since it differs from
    one held by the flag alone (``exported.py``). Coupa's ``exported=false`` filter is not
    used: it would hide invoices another system flagged, and voids and edits after posting
    (which keep the flag), from the poll (docs/decisions.md)."""

    kind: Kind = "invoice"
    resource: str = "invoices"
    filters: dict[str, str] = field(
        default_factory=lambda: {"status[in]": ",".join(INVOICE_STATUSES)}
    )

    async def held(self, conn: Connection, connection: str, listed: Sequence[Listed]) -> set[int]:
        held = await super().held(conn, connection, listed)
        return held | await versions_marked_by_us(conn, connection, listed)


@dataclass(frozen=True)
class PurchaseOrderFeed:
    """Purchase orders: every changed one is stored in the PO cache, which the drain reads."""

    kind: str = "purchase_order"
    resource: str = "purchase_orders"
    filters: dict[str, str] = field(default_factory=dict)

    async def held(self, conn: Connection, connection: str, listed: Sequence[Listed]) -> set[int]:
        return await po_cache.held_versions(conn, connection, listed)

    async def take(self, conn: Connection, connection: str, bodies: list[dict[str, Any]]) -> int:
        return await po_cache.store(conn, connection, bodies)


FEEDS: tuple[Feed, ...] = (
    InvoiceFeed(),
    InboxFeed("supplier", "suppliers", {}),
    PurchaseOrderFeed(),
)


@dataclass(frozen=True)
class Position:
    """How far a feed's poll has read (see the module docstring); None before its first poll."""

    cursor: datetime | None
    settled: datetime | None


async def read_position(conn: Connection, connection: str, kind: str) -> Position:
    row = await conn.fetchrow(
        "SELECT cursor_at, settled_at FROM poll_cursors WHERE connection = $1 AND kind = $2",
        connection,
        kind,
    )
    return Position(row["cursor_at"], row["settled_at"]) if row else Position(None, None)


async def write_position(conn: Connection, connection: str, kind: str, position: Position) -> None:
    """Move both instants forward, never back (a slower replica's late write changes nothing)."""
    await conn.execute(
        """INSERT INTO poll_cursors (connection, kind, cursor_at, settled_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (connection, kind)
           DO UPDATE SET cursor_at = GREATEST(poll_cursors.cursor_at, EXCLUDED.cursor_at),
                         settled_at = GREATEST(poll_cursors.settled_at, EXCLUDED.settled_at),
                         updated_at = now()""",
        connection,
        kind,
        position.cursor,
        position.settled,
    )


async def write_polled(conn: Connection, connection: str, at: datetime) -> None:
    """Note that a poll of ``connection`` read every feed to its end at ``at`` (``coupa_polls``:
    what operators ask first, kept where every replica and the console see it)."""
    await conn.execute(
        """INSERT INTO coupa_polls (connection, polled_at) VALUES ($1, $2)
           ON CONFLICT (connection)
           DO UPDATE SET polled_at = GREATEST(coupa_polls.polled_at, EXCLUDED.polled_at)""",
        connection,
        at,
    )


@dataclass(frozen=True)
class Walk:
    """One listing: the changes stamped in ``[since, until)``, ``until`` None for no end."""

    since: datetime
    until: datetime | None = None


@dataclass(frozen=True)
class Reach:
    """How far back a poll lists: see the module docstring."""

    overlap: timedelta
    head_margin: timedelta
    first_lookback: timedelta


def plan_walks(started: datetime, position: Position, reach: Reach) -> tuple[list[Walk], datetime]:
    """What a poll starting at ``started`` lists, and where ``settled_at`` stands once it has."""
    cursor = position.cursor
    head = Walk(cursor - reach.head_margin if cursor else started - reach.first_lookback)
    # A cursor written before settled_at existed had its overlap re-read by every poll: that
    # is where the first settle walk starts, and it is stored at once, never derived again.
    settled = position.settled or (cursor - reach.overlap if cursor else head.since)
    # Whole seconds, Coupa's precision: nothing between a bound and its stamp is left unread.
    mature = (started - reach.overlap).replace(microsecond=0)
    if head.since <= settled:  # the head walk lists everything from settled on
        return [head], max(settled, mature)
    if mature - settled >= reach.overlap:
        return [Walk(settled, min(mature, head.since)), head], max(settled, mature)
    return [head], settled


class Poller:
    """Polls every connection on its interval; ``on_accepted`` is called when anything is new,
    ``on_polled(name)`` when this replica has read every feed of ``name`` to its end (and has
    stored that instant with ``write_polled``)."""

    def __init__(
        self,
        pool: Pool,
        directory: CoupaConnections,
        *,
        on_accepted: Callable[[], None],
        on_polled: Callable[[str], None] = lambda name: None,
        overlap: timedelta = timedelta(minutes=5),
        head_margin: timedelta = timedelta(seconds=10),
        first_lookback: timedelta = timedelta(days=30),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._directory = directory
        self._on_accepted = on_accepted
        self._on_polled = on_polled
        self._reach = Reach(overlap, head_margin, first_lookback)
        self._clock = clock
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
            with bound(connection=name):
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
        """One poll of every feed of ``name``; how many new object versions it took in."""
        async with self._pool.acquire() as conn:
            locked = await conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtext('connector-poll:' || $1))", name
            )
            if not locked:
                return 0
            try:
                taken = 0
                for feed in FEEDS:
                    taken += await self._poll_feed(conn, name, feed)
                await write_polled(conn, name, self._clock())
                self._on_polled(name)
                return taken
            finally:
                # A broken connection took its session's lock with it: nothing left to release.
                with contextlib.suppress(*OUTAGES):
                    await conn.execute(
                        "SELECT pg_advisory_unlock(hashtext('connector-poll:' || $1))", name
                    )

    async def _poll_feed(self, conn: Connection, name: str, feed: Feed) -> int:
        started = self._clock()
        position = await read_position(conn, name, feed.kind)
        walks, settled = plan_walks(started, position, self._reach)
        client = await self._directory.coupa(name)
        newest = position.cursor
        taken = 0
        for walk in walks:
            async for listed in client.list_changed(
                feed.resource, walk.since, until=walk.until, filters=feed.filters
            ):
                taken += await self._take_new(conn, name, feed, client, listed)
                for item in listed:
                    if item.updated_at is not None and (newest is None or item.updated_at > newest):
                        newest = item.updated_at
        # A record that changed during a walk, behind its position, was not listed again
        # (shared/coupa/paging.py); its new updated-at is after ``started``, which records
        # listed later in a long walk may be well past. ``started`` is our clock and
        # updated-at Coupa's: the head margin covers a small skew, the settle walk the rest.
        cursor = min(newest, started) if newest else None
        if cursor is not None:
            await write_position(conn, name, feed.kind, Position(cursor, settled))
        if taken:
            log.info("poll took in", extra={"connection": name, "kind": feed.kind, "new": taken})
        return taken

    async def _take_new(
        self,
        conn: Connection,
        name: str,
        feed: Feed,
        client: CoupaClient,
        listed: list[Listed],
    ) -> int:
        """Fetch in full, in bulk, and keep the listed versions not held yet."""
        held = await feed.held(conn, name, listed)
        wanted = [str(item.id) for item in listed if item.id not in held]
        if not wanted:
            return 0
        fetched = await client.fetch_in(feed.resource, "id", wanted, feed.filters)
        return await feed.take(conn, name, fetched)
