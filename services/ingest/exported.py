"""Telling Coupa what reached Deltek: once a voucher is entered, the invoice is flagged
``exported`` in Coupa (coupa-api.md §3.3), for connections with ``coupa.mark_exported`` on.

Ingest consumes ``deltek.results`` for it in a consumer group of its own, so a slow or refusing
Coupa delays only the flags, never the posting nor the audit of results. Each mark:

- is done once per invoice: skipped when the record's audit already says ``exported_in_coupa``,
  and when Coupa already holds the flag (set by an earlier attempt whose answer was lost, or by
  another system) it is only audited;
- is retried while Coupa fails transiently (the client's own retries, then the consumer loop's
  backoff for as long as it takes: the message stays uncommitted);
- waits, retried like a transient failure, while Coupa refuses our credentials or their scope
  (401 after a fresh token, 403): that is fixed on the connection, and the flag must then still
  be set, not dropped for good during the outage;
- is audited and logged when Coupa refuses it otherwise (404, 422...), and not tried again for
  that message: a refusal is no reason to dead-letter the result, which would mark a posted
  record failed.

The flag moves the invoice's ``updated-at`` in Coupa (§3.3 [I]): the version it makes differs
from the one the connector holds by the flag alone, so the audit keeps it (``made_version``) and
the poll does not fetch it again (``versions_marked_by_us``). That is only claimed when the
version before the mark is one ingest took in; otherwise a change made in Coupa between posting
and marking would hide behind the flag, so the poll fetches it as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Counter

from services.ingest.inbox import held_versions
from shared.connection_settings import ConnectionSettings
from shared.coupa.client import CoupaClient
from shared.coupa.errors import CoupaAuthError, CoupaPermissionError
from shared.coupa.exports import ExportState
from shared.coupa.paging import Listed, coupa_instant
from shared.db.pool import Connection, Pool
from shared.http.errors import FatalError, RetriableError
from shared.kafka.delivery import TransientError
from shared.kafka.envelope import Coordinates, Envelope, record_key
from shared.messages import INVOICE_POSTED, InvoicePosted
from shared.records import append_audit

log = logging.getLogger(__name__)

SERVICE = "ingest"
EXPORTED = "exported_in_coupa"
REFUSED = "export_refused_by_coupa"
Outcome = Literal["marked", "already_exported", "already_marked", "refused"]
SettingsFor = Callable[[Connection, str], Awaitable[ConnectionSettings | None]]
CoupaFor = Callable[[str], Awaitable[CoupaClient]]


def export_outcomes(registry: CollectorRegistry) -> Counter:
    """Marks by connection and outcome (``Outcome``); a transient failure is no outcome, the
    message is handled again."""
    return Counter(
        "connector_coupa_exports_total",
        "Invoices flagged exported in Coupa after their voucher was entered, by outcome",
        ["connection", "outcome"],
        registry=registry,
    )


@dataclass(frozen=True)
class ExportMarker:
    """The ``deltek.results`` handler that flags posted invoices exported in Coupa."""

    pool: Pool
    coupa: CoupaFor
    settings_for: SettingsFor
    outcomes: Counter

    async def handle(self, envelope: Envelope, coords: Coordinates) -> None:
        if envelope.schema_name != INVOICE_POSTED:
            return
        posted = InvoicePosted.model_validate(envelope.payload)
        async with self.pool.acquire() as conn:
            settings = await self.settings_for(conn, envelope.connection)
            if settings is None or not settings.coupa.mark_exported:
                return
            if await _marked_before(conn, posted.record_key):
                self._count(envelope.connection, "already_marked")
                return
        invoice_id = int(posted.record_key.split(":", 2)[2])
        client = await self.coupa(envelope.connection)
        try:
            before = await client.export_state(invoice_id)
            after = None if before.exported else await client.set_exported(invoice_id)
        except RetriableError as exc:
            raise TransientError(f"Coupa did not take the export flag: {exc}") from exc
        except (CoupaAuthError, CoupaPermissionError) as exc:
            # Credentials or a scope, fixed on the connection: wait for that, with backoff.
            raise TransientError(f"Coupa refused our credentials for the flag: {exc}") from exc
        except FatalError as exc:
            await self._refused(envelope, posted, coords, exc)
            return
        outcome: Outcome = "marked" if after else "already_exported"
        async with self.pool.acquire() as conn:
            made = await _made_version(conn, envelope.connection, before, after)
            details = {
                "coupa_id": invoice_id,
                "voucher": posted.voucher,
                "outcome": outcome,
                "version_before": before.version,
                "made_version": made,
            }
            await append_audit(
                conn,
                record_key=posted.record_key,
                service=SERVICE,
                event=EXPORTED,
                details=details,
                coords=coords,
            )
        self._count(envelope.connection, outcome)

    async def _refused(
        self, envelope: Envelope, posted: InvoicePosted, coords: Coordinates, exc: FatalError
    ) -> None:
        """Coupa said no (an unknown invoice, an invoice it will not flag...): a person must
        look; the posting stands and the result is not dead-lettered."""
        log.warning(
            "coupa refused the export flag",
            extra={"connection": envelope.connection, "job_id": posted.job_id, "error": str(exc)},
        )
        async with self.pool.acquire() as conn:
            await append_audit(
                conn,
                record_key=posted.record_key,
                service=SERVICE,
                event=REFUSED,
                details={"coupa_status": exc.status, "coupa_message": exc.detail},
                coords=coords,
            )
        self._count(envelope.connection, "refused")

    def _count(self, connection: str, outcome: Outcome) -> None:
        self.outcomes.labels(connection, outcome).inc()


async def _marked_before(conn: Connection, key: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM audit_events WHERE record_key = $1 AND event = $2)",
            key,
            EXPORTED,
        )
    )


async def _made_version(
    conn: Connection, connection: str, before: ExportState, after: ExportState | None
) -> str | None:
    """The version our flag made, when it differs from one ingest holds by the flag alone."""
    if after is None or after.version is None or before.version in (None, after.version):
        return None
    listed = Listed(before.invoice_id, before.version, coupa_instant(before.version))
    held = await held_versions(conn, connection, "invoice", [listed])
    return after.version if held else None


async def versions_marked_by_us(
    conn: Connection, connection: str, listed: Sequence[Listed]
) -> set[int]:
    """Ids of the listed invoices whose listed version is the one our export flag made."""
    by_key = {record_key(connection, "invoice", item.id): item for item in listed}
    rows = await conn.fetch(
        """SELECT record_key, details->>'made_version' AS made FROM audit_events
            WHERE record_key = ANY($1::text[]) AND event = $2""",
        list(by_key),
        EXPORTED,
    )
    marks = {(row["record_key"], row["made"]) for row in rows}
    return {item.id for key, item in by_key.items() if (key, item.version) in marks}
