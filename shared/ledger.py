"""The posting ledger: one row per job, claimed under a lease; the truth about "already booked".

States (``posting_ledger.state``)::

    (none) ──claim──▶ claimed ──voucher in Deltek──▶ entered ──batch posted / no posting──▶ posted
                         │  ▲                          │
                         ▼  │ claim again              ▼
                       parked (Deltek refused, or a person must look; last_error says why)
                       previewed (preview mode: nothing sent; claimed again once live)

``posted`` is terminal: the job is done (entered, and posted when the connection posts batches;
``post_seq`` is set exactly when Deltek posted the batch). Every other state can be claimed
again once no live lease covers it. The lease is taken with the database clock, so posters on
hosts with skewed clocks still agree; it is released when a handling ends, and otherwise
expires after ``lease_seconds``. A poster also holds the job's advisory lock while it works
(``JobLocks``); a crashed poster's lock goes with its database session, so the next poster takes
the job over at once instead of waiting for the lease. A holder re-checks its lease right before
each Deltek write (``hold``), so a poster that stalled past its lease never writes.

``content_hash`` is the hash of what was last *sent* to Deltek (set by ``hold`` before a POST):
a later command whose hash differs, for a job Deltek already holds, is a change after posting.

Vendor jobs (one per Coupa supplier) use the same rows without batch and voucher: they carry
the firm's ``client_id`` (from the moment the firm is created) and ``vendor`` number (once the
first sync finished) instead, and a ``posted`` one is claimed again
(``reopen_changed``) when a command with another content hash arrives, since a supplier that
changed in Coupa must change its firm, where an invoice that changed must never be re-booked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.db.pool import Connection, Pool
from shared.outages import OUTAGES

log = logging.getLogger(__name__)

Action = Literal["proceed", "busy", "already_posted", "changed_after_post"]
# States in which a voucher for the job is (or may be) in Deltek: a new version must not book.
BOOKED_STATES = ("claimed", "entered", "posted")


@dataclass(frozen=True)
class Refs:
    """Where a job's voucher is in Deltek, as far as it is known."""

    batch: str
    master_pkey: str
    voucher: str | None = None
    period: int | None = None
    post_seq: str | None = None

    def details(self) -> dict[str, Any]:
        """The references as an audit event carries them."""
        return {
            "batch": self.batch,
            "master_pkey": self.master_pkey,
            "voucher": self.voucher,
            "period": self.period,
            "post_seq": self.post_seq,
        }

    def deltek_ref(self) -> str:
        """The short reference stored on the record: batch and voucher number."""
        return f"{self.batch}/{self.voucher}" if self.voucher else self.batch


@dataclass(frozen=True)
class Entry:
    """A ledger row as read back."""

    job_id: str
    state: str
    content_hash: str
    refs: Refs
    owner: str | None
    lease_until: datetime | None
    attempts: int
    last_error: str | None
    client_id: str | None = None  # vendor jobs: the Deltek firm
    vendor: str | None = None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Entry:
        # Vendor jobs have no batch or voucher key; their Refs stay empty.
        refs = Refs(
            row["batch"] or "",
            row["master_pkey"] or "",
            row["voucher"],
            row["period"],
            row["post_seq"],
        )
        return cls(
            row["job_id"],
            row["state"],
            row["content_hash"],
            refs,
            row["owner"],
            row["lease_until"],
            row["attempts"],
            row["last_error"],
            row["client_id"],
            row["vendor"],
        )


@dataclass(frozen=True)
class Claim:
    """What a claim decided, and the row it looked at (after the claim, if it took it)."""

    action: Action
    entry: Entry
    fresh: bool = False  # this claim created the row


def refusal(entry: Entry, content_hash: str, *, reopen_changed: bool = False) -> Action:
    """Why a claim could not take an existing row (pure: the claim's WHERE said no)."""
    if entry.state == "posted" and not (reopen_changed and entry.content_hash != content_hash):
        return "already_posted" if entry.content_hash == content_hash else "changed_after_post"
    return "busy"


_CLAIM = """
INSERT INTO posting_ledger AS l (job_id, connection, record_key, content_hash, state, batch,
                                 master_pkey, owner, lease_until, attempts)
VALUES ($1, $2, $3, $4, 'claimed', $5, $6, $7, now() + make_interval(secs => $8), 1)
ON CONFLICT (job_id) DO UPDATE
   SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until,
       attempts = l.attempts + 1, updated_at = now()
 WHERE (l.state <> 'posted' OR ($10 AND l.content_hash <> EXCLUDED.content_hash))
   AND ($9 OR l.lease_until IS NULL OR l.lease_until <= now())
RETURNING l.*, (xmax = 0) AS fresh
"""


class JobLocks:
    """The job advisory locks of one poster, all held on one database session of its own.

    A session-level advisory lock dies with its session, so a poster killed mid-job frees its
    jobs at once, where its lease would block every other poster until it expired. Holding
    that proof is therefore enough to take over a live lease (``claim(locked=True)``). One
    session can hold any number of locks, so a poster with many jobs in flight borrows one
    pooled connection for all of them (a connection per job would drain the pool and
    deadlock handlers that need a second one), and gives it back whenever it holds none.
    Postgres lets a session take a lock it already holds, so jobs held in this process are
    also kept in a set: the same job twice in one poster is "busy" like in another poster.
    """

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._session: PoolConnectionProxy[asyncpg.Record] | None = None
        self._held: set[str] = set()
        self._mutex = asyncio.Lock()

    @asynccontextmanager
    async def holding(self, job_id: str) -> AsyncIterator[bool]:
        """Hold the job's lock for a whole handling; yields False if anyone else has it."""
        got = await self._take(job_id)
        try:
            yield got
        finally:
            if got:
                await self._give_back(job_id)

    async def _take(self, job_id: str) -> bool:
        async with self._mutex:
            if job_id in self._held:
                return False
            if self._session is not None and _lost(self._session):
                await self._release_if_idle(broken=True)
            if self._session is None:
                self._session = await self._pool.acquire()
            session = self._session
            try:
                got = bool(await session.fetchval(_TRY_LOCK, _lock_key(job_id)))
            except BaseException as exc:
                await self._release_if_idle(broken=_broken(session, exc))
                raise
            if got:
                self._held.add(job_id)
            else:
                await self._release_if_idle()
            return got

    async def _give_back(self, job_id: str) -> None:
        async with self._mutex:
            self._held.discard(job_id)
            session = self._session
            if session is None or _lost(session):
                # The session died (its locks with it); nothing left to unlock.
                await self._release_if_idle(broken=True)
                return
            try:
                await session.execute(_UNLOCK, _lock_key(job_id))
            except Exception as exc:
                # The handling is over either way; a session that cannot unlock is not trusted
                # with locks again (the pool resets a returned one: pg_advisory_unlock_all).
                log.warning("job lock not released cleanly", extra={"error": repr(exc)})
                await self._release_if_idle(broken=True)
                return
            await self._release_if_idle()

    async def _release_if_idle(self, *, broken: bool = False) -> None:
        """Give the session back when no job is held on it, or at once when it is broken
        (every lock on it is gone then; ``hold`` re-checks each lease before a write)."""
        if self._session is None or (self._held and not broken):
            return
        session, self._session = self._session, None
        if broken:
            self._held.clear()
        try:
            await self._pool.release(session)
        except Exception as exc:  # the pool terminates a connection it cannot reset
            log.info("job lock session dropped", extra={"error": repr(exc)})


def _broken(session: PoolConnectionProxy[asyncpg.Record], exc: BaseException) -> bool:
    return isinstance(exc, OUTAGES) or _lost(session)


def _lost(session: PoolConnectionProxy[asyncpg.Record]) -> bool:
    """Whether the session died (asyncpg detaches a proxy whose connection was lost)."""
    try:
        return session.is_closed()
    except asyncpg.InterfaceError:
        return True


_TRY_LOCK = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"
_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended($1, 0))"


def _lock_key(job_id: str) -> str:
    return f"connector-job:{job_id}"


async def claim(
    conn: Connection,
    *,
    job_id: str,
    connection: str,
    record_key: str,
    content_hash: str,
    batch: str | None,
    master_pkey: str | None,
    owner: str,
    lease_seconds: float,
    locked: bool = False,
    reopen_changed: bool = False,
) -> Claim:
    """Take the job's lease in one statement, or say why not (``refusal``).

    ``locked``: the caller holds the job's lock (``JobLocks``), so a live lease is a dead
    poster's and may be taken over. ``reopen_changed``: a posted job is taken again when the
    content hash differs (vendor jobs).
    """
    row = await conn.fetchrow(
        _CLAIM,
        job_id,
        connection,
        record_key,
        content_hash,
        batch,
        master_pkey,
        owner,
        float(lease_seconds),
        locked,
        reopen_changed,
    )
    if row is not None:
        return Claim("proceed", Entry.from_row(row), bool(row["fresh"]))
    entry = await read_entry(conn, job_id)
    if entry is None:  # deleted between the two statements: let the retry claim it
        raise LookupError(f"ledger row {job_id} vanished during its claim")
    return Claim(refusal(entry, content_hash, reopen_changed=reopen_changed), entry)


async def read_entry(conn: Connection, job_id: str) -> Entry | None:
    """The job's ledger row, if it has one (read by the poster, the mapper and the CLI)."""
    row = await conn.fetchrow("SELECT * FROM posting_ledger WHERE job_id = $1", job_id)
    return None if row is None else Entry.from_row(row)


async def hold(
    conn: Connection,
    job_id: str,
    owner: str,
    lease_seconds: float,
    *,
    sending: str | None = None,
) -> bool:
    """Renew our lease before a write; False when it lapsed (someone else may hold the job).

    ``sending`` records the content hash about to be sent, in the same statement.
    """
    held = await conn.fetchval(
        """UPDATE posting_ledger
              SET lease_until = now() + make_interval(secs => $3),
                  content_hash = COALESCE($4, content_hash), updated_at = now()
            WHERE job_id = $1 AND owner = $2 AND lease_until > now()
        RETURNING true""",
        job_id,
        owner,
        float(lease_seconds),
        sending,
    )
    return bool(held)


async def record_step(
    conn: Connection,
    job_id: str,
    state: Literal["entered", "posted", "parked", "previewed"],
    refs: Refs | None = None,
    *,
    error: str | None = None,
    firm: tuple[str, str | None] | None = None,
    content_hash: str | None = None,
) -> None:
    """Note a step with what Deltek told us; ``posted`` and ``parked`` also end the lease.

    Vendor jobs pass ``firm`` (ClientID, vendor number) and the ``content_hash`` now in Deltek.
    """
    client_id, vendor = firm or (None, None)
    await conn.execute(
        """UPDATE posting_ledger
              SET state = $2, voucher = COALESCE($3, voucher), period = COALESCE($4, period),
                  post_seq = COALESCE($5, post_seq), last_error = $6,
                  client_id = COALESCE($7, client_id), vendor = COALESCE($8, vendor),
                  content_hash = COALESCE($9, content_hash),
                  lease_until = CASE WHEN $2 = 'entered' THEN lease_until END,
                  updated_at = now()
            WHERE job_id = $1""",
        job_id,
        state,
        refs.voucher if refs else None,
        refs.period if refs else None,
        refs.post_seq if refs else None,
        error,
        client_id,
        vendor,
        content_hash,
    )


async def release(conn: Connection, job_id: str, owner: str, error: str) -> None:
    """Give the lease back after a failure that will be retried, so any poster may go on."""
    await conn.execute(
        """UPDATE posting_ledger SET lease_until = NULL, last_error = $3, updated_at = now()
            WHERE job_id = $1 AND owner = $2""",
        job_id,
        owner,
        error,
    )


def summary(entry: Entry) -> dict[str, Any]:
    """The ledger facts an audit event carries."""
    return {
        "ledger_state": entry.state,
        "attempts": entry.attempts,
        **entry.refs.details(),
        "last_error": entry.last_error,
    }
