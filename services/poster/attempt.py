"""One handling of a claimed job: its lease, its current step, and its failures sorted alike.

Invoice and vendor jobs fail the same ways, so both run their Deltek steps through ``Attempt``:
a refusal (Deltek's 4xx, or a command that cannot be sent as it stands) parks the record with
the step's plain-English lead and Deltek's message; 429/5xx, network errors and lost answers
release the lease at once and raise ``TransientError`` for the consumer loop's backoff; so does
a connection that needs a person (credentials refused, a tenant setting to configure), after
the record was told why it waits; anything else releases the lease and propagates to the
attempt limit and the dead-letter topic.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

import aiohttp

from services.poster.jobs import PosterDeps
from shared import ledger
from shared.deltek import NeedsAttentionError, OutcomeUnknownError
from shared.http import FatalError, RetriableError
from shared.kafka.consumer import TransientError
from shared.logs import scrub

log = logging.getLogger(__name__)

_TRANSIENT = (RetriableError, OutcomeUnknownError, aiohttp.ClientError, OSError, TimeoutError)
Park = Callable[[str, FatalError | None], Awaitable[None]]
Wait = Callable[[str], Awaitable[None]]


class Attempt:
    """This poster's hold on one job; ``step`` names what it is doing, for failure words."""

    def __init__(self, deps: PosterDeps, job_id: str, connection: str, step: str) -> None:
        self.deps = deps
        self.job_id = job_id
        self.connection = connection
        self.step = step

    async def hold(self, *, sending: str | None = None) -> None:
        """Renew the lease right before a Deltek write; a lapsed lease stops us writing."""
        async with self.deps.pool.acquire() as conn:
            held = await ledger.hold(
                conn, self.job_id, self.deps.owner, self.deps.tuning.lease_seconds, sending=sending
            )
        if not held:
            raise TransientError(f"lease on job {self.job_id} lapsed; another poster may hold it")

    async def release(self, error: str) -> None:
        """Best effort: if the database is down too, the lease simply expires."""
        try:
            async with self.deps.pool.acquire() as conn:
                await ledger.release(conn, self.job_id, self.deps.owner, scrub(error))
        except Exception:
            log.warning("could not release the lease", extra={"job_id": self.job_id}, exc_info=True)

    async def run(
        self,
        work: Callable[[], Awaitable[None]],
        *,
        doing: Mapping[str, str],
        refused: Mapping[str, str],
        park: Park,
        wait: Wait,
        refusals: tuple[type[Exception], ...] = (),
    ) -> None:
        """Run ``work``; ``doing``/``refused`` word a failure by ``step``, ``park`` records it,
        ``wait`` records why the job waits for a person without parking it.

        ``refusals`` are our own exceptions that park like a Deltek refusal (no Deltek status).
        """
        try:
            await work()
        except TransientError as exc:
            await self.release(str(exc))
            raise
        except NeedsAttentionError as exc:
            # Every job of the connection is stopped alike: none is parked one by one.
            reason = f"Deltek connection {self.connection} needs a person: {exc.detail}"
            await wait(reason)
            await self.release(reason)
            raise TransientError(reason) from exc
        except FatalError as exc:
            await park(f"{refused[self.step]}: {exc.detail}", exc)
        except refusals as exc:
            await park(f"{refused[self.step]}: {exc}", None)
        except _TRANSIENT as exc:
            await self.release(f"{type(exc).__name__}: {exc}")
            raise TransientError(f"Deltek unavailable while {doing[self.step]}: {exc}") from exc
        except Exception as exc:
            await self.release(f"{type(exc).__name__}: {exc}")
            raise
