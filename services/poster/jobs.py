"""What the poster's handler works with: its injected dependencies and the job in hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, Protocol, TypeVar

from services.poster.metrics import PosterMetrics
from shared import ledger
from shared.connection_settings import ConnectionSettings
from shared.db.pool import Connection, Pool
from shared.deltek import DeltekClient
from shared.deltek.keys import batch_name, master_pkey
from shared.kafka.consumer import TransientError
from shared.kafka.envelope import Coordinates, Envelope, utc_now
from shared.kafka.producer import Publishes
from shared.kafka.topics import Topics
from shared.ledger import Claim, Refs
from shared.messages import PostApInvoice, UpsertVendor
from shared.records import is_newer, newest, versions
from shared.settings import PosterTuning

SERVICE = "poster"
Outcome = Literal["created", "already_entered", "already_posted"]
Command = PostApInvoice | UpsertVendor
C = TypeVar("C", bound=Command, covariant=True)
CommandT = TypeVar("CommandT", bound=Command)


class DeltekConnections(Protocol):
    """The one seam to connections (``StoredConnections`` in the service)."""

    async def names(self) -> list[str]: ...

    async def settings_for(self, connection: str) -> ConnectionSettings | None: ...

    async def client_for(self, connection: str) -> DeltekClient:
        """A long-lived client owned by the provider (its token is shared); never closed here."""
        ...


@dataclass(frozen=True)
class PosterDeps:
    pool: Pool
    publisher: Publishes
    topics: Topics
    connections: DeltekConnections
    metrics: PosterMetrics
    owner: str  # unique per handler instance: two instances must never share a lease
    tuning: PosterTuning = field(default_factory=PosterTuning)
    clock: Callable[[], datetime] = utc_now
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # Built from ``pool``: one set of job locks per handler, as per poster process.
    locks: ledger.JobLocks = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "locks", ledger.JobLocks(self.pool))


@dataclass(frozen=True)
class Job(Generic[C]):
    """One command in hand, with its record's id and state (None when none is stored)."""

    envelope: Envelope
    coords: Coordinates
    command: C
    content_hash: str
    record_id: int | None
    record_state: str | None

    @property
    def job_id(self) -> str:
        return self.command.job_id

    @property
    def connection(self) -> str:
        return self.command.connection

    @property
    def base_refs(self) -> Refs:
        return Refs(batch_name(self.job_id), master_pkey(self.job_id))


@asynccontextmanager
async def holding(deps: PosterDeps, job_id: str) -> AsyncIterator[None]:
    """The job's advisory lock for the whole handling (``ledger.JobLocks``); while another
    poster (or another message in this one) has it, the message waits and is retried."""
    async with deps.locks.holding(job_id) as locked:
        if not locked:
            raise TransientError(f"job {job_id} is in another poster's hands")
        yield


async def claim_job(
    conn: Connection, deps: PosterDeps, job: Job[Command], *, vendor: bool = False
) -> Claim:
    """The ledger claim of a job whose lock we hold; vendor jobs have no batch and are
    claimed again when their content changed (``ledger.claim``)."""
    return await ledger.claim(
        conn,
        job_id=job.job_id,
        connection=job.connection,
        record_key=job.command.record_key,
        content_hash=job.content_hash,
        batch=None if vendor else job.base_refs.batch,
        master_pkey=None if vendor else job.base_refs.master_pkey,
        owner=deps.owner,
        lease_seconds=deps.tuning.lease_seconds,
        locked=True,
        reopen_changed=vendor,
    )


async def load_job(
    conn: Connection, envelope: Envelope, coords: Coordinates, command: CommandT
) -> tuple[Job[CommandT], str | None]:
    """The job, and the newest stored version of its record if that is newer than this."""
    stored = await versions(conn, command.record_key)
    own = next((v for v in stored if v.version == command.coupa_version), None)
    newer = [v.version for v in stored if is_newer(v.version, command.coupa_version)]
    job = Job(
        envelope,
        coords,
        command,
        command.content_hash(),
        own.id if own else None,
        own.state if own else None,
    )
    return job, newest(newer) if newer else None
