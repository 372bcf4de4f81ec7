"""The poster's handler for ``UpsertVendor``: one Deltek vendor firm per Coupa supplier, kept equal.

Per command, under the job's lock and a ledger claim (the invoice pattern, ``ledger.py``):

1. A ledger row ``posted`` with the same content hash means Deltek already holds exactly this:
   no Deltek call at all; the record is marked ``posted`` and the result re-published.
2. Otherwise the firm is found: the one this job synced before (ledger), the supplier map, then
   vendor number, tax id (``FedID``) and exact name, first in the reference cache and, when the
   cache knows none, in Deltek itself (``filterHash``), which also finds a firm whose creation
   answer was lost. Two firms under one rule park the supplier with both shown.
3. None found: ``POST /firm`` with ``VendorInd: "Y"``, read back (autonumbered, zero-padded
   numbers, deltek-api.md §2.2), and noted in the ledger at once, so a retry after a later
   failure finds it there and still writes what is written only on creation. Found: ``PUT``
   only the root keys that differ among those the connection keeps in sync (``firms.py``).
4. The remit-to address is added, or its differing keys changed through ``CLAddress``; vendor
   accounting (pay terms, 1099) is read first, also for a firm just created (Vantagepoint may
   create the row when a firm is saved as a vendor, §3.D), then inserted when there is none and
   updated where it differs.
5. In one transaction: ledger ``posted`` with firm and hash, the supplier map
   (``source='vendor_sync'``), the vendor row of the reference cache, the record ``posted``; the
   map's NOTIFY wakes invoices parked for this supplier. Then ``VendorUpserted`` is published.

Deltek's refusals park the record with its message (``<BR/>`` made a space): a duplicate firm
or vendor number, an unknown country, a number sent to a tenant that forbids overriding its
autonumbering. Transient failures release the lease and retry (``attempt.py``).
"""

from __future__ import annotations

import logging
from typing import Any

from services.poster import firms
from services.poster.attempt import Attempt
from services.poster.firms import Candidate, Conflict
from services.poster.jobs import Job, PosterDeps, claim_job, holding, load_job
from services.poster.report import Reporter
from services.poster.vendor_plan import changes_to, creation
from shared import ledger
from shared.deltek import DeltekClient, FilterHash, Firm
from shared.http import FatalError
from shared.kafka.consumer import TransientError
from shared.kafka.envelope import Coordinates, Envelope
from shared.ledger import Claim
from shared.mappings import upsert_mappings
from shared.messages import VENDOR_UPSERTED, UpsertVendor, VendorOutcome, VendorUpserted
from shared.reference.cache import cache_vendor, load_vendor_reference
from shared.reference.view import Vendor

log = logging.getLogger(__name__)

_DOING = {
    "find": "looking the vendor firm up",
    "create": "creating the vendor firm",
    "update": "updating the vendor firm",
    "address": "writing the remit-to address",
    "accounting": "writing the vendor's pay terms and 1099 flag",
}
_REFUSED = {
    "find": "Not sent to Deltek",
    "create": "Deltek refused to create the vendor firm",
    "update": "Deltek refused to update the vendor firm",
    "address": "Deltek refused the remit-to address",
    "accounting": "Deltek refused the vendor's pay terms or 1099 flag",
}


class FirmConflictError(ValueError):
    """Several Deltek firms match the supplier; the message shows them all."""


class VendorSync:
    """``await sync(envelope, coords)`` for each ``UpsertVendor`` on ``deltek.writes``."""

    def __init__(self, deps: PosterDeps, report: Reporter) -> None:
        self.deps = deps
        self.report = report

    async def __call__(self, envelope: Envelope, coords: Coordinates) -> None:
        command = UpsertVendor.model_validate(envelope.payload)
        async with holding(self.deps, command.job_id):
            async with self.deps.pool.acquire() as conn:
                job, newer = await load_job(conn, envelope, coords, command)
                if newer is not None and job.record_state != "posted":
                    await self.report.superseded(conn, job, newer)
                    return
                claim = await claim_job(conn, self.deps, job, vendor=True)
            if claim.action == "already_posted":
                entry = claim.entry
                await self._finish(job, entry.client_id or "", entry.vendor, "unchanged")
            elif claim.action == "proceed":
                await self._work(job, claim)
            else:
                raise TransientError(f"job {job.job_id} is held by {claim.entry.owner}")

    async def _work(self, job: Job[UpsertVendor], claim: Claim) -> None:
        await self.report.posting(job, claim.entry)
        attempt = Attempt(self.deps, job.job_id, job.connection, "find")

        async def park(reason: str, error: FatalError | None) -> None:
            await self.report.park(job, None, reason.replace("<BR/>", " ").strip(), error)

        await attempt.run(
            lambda: self._steps(job, claim, attempt),
            doing=_DOING,
            refused=_REFUSED,
            park=park,
            wait=lambda reason: self.report.waiting(job, reason),
            refusals=(FirmConflictError,),
        )

    async def _steps(self, job: Job[UpsertVendor], claim: Claim, attempt: Attempt) -> None:
        command = job.command
        client = await self.deps.connections.client_for(job.connection)
        found = await self._find(client, command, claim.entry.client_id)
        if isinstance(found, Conflict):
            raise FirmConflictError(found.reason(firms.supplier_label(command)))
        # The firm this job created on an earlier attempt that did not finish: the ledger holds
        # its ClientID, and a vendor number only once a sync of this job finished.
        creating = found is None or (found[0] == "ledger" and claim.entry.vendor is None)
        settings = await self.deps.connections.settings_for(job.connection)
        if settings is not None and settings.mode == "preview":
            plan = (
                creation(command)
                if found is None
                else await changes_to(client, command, found[1], creating=creating)
            )
            if plan:  # a write is needed: record it instead (a shadow run writes nothing)
                await self.report.would_sync(job, "create" if found is None else "update", plan)
                return
        changed: list[str] = []
        outcome: VendorOutcome
        if found is None:
            attempt.step, outcome = "create", "created"
            await attempt.hold(sending=job.content_hash)
            firm = await client.create_firm(firms.new_firm(command))
            async with self.deps.pool.acquire() as conn:
                await ledger.record_step(conn, job.job_id, "entered", firm=(_client_id(firm), None))
            changed.append("firm")
        else:
            rule, firm = found
            outcome = "updated" if rule in ("ledger", "supplier map") else "linked"
            if root := firms.firm_changes(command, firm):
                attempt.step = "update"
                await attempt.hold(sending=job.content_hash)
                firm = await client.update_firm(_client_id(firm), root)
                changed += sorted(root)
        client_id, vendor = _client_id(firm), firm.Vendor
        if vendor is None:
            raise FatalError(f"firm {client_id} came back without a vendor number", status=200)
        attempt.step = "address"
        addresses = [] if found is None else await client.list_addresses(client_id)
        if (address := firms.address_change(command, addresses, creating=creating)) is not None:
            await attempt.hold(sending=job.content_hash)
            if address.CLAddressID is None:
                await client.add_address(client_id, address)
            else:
                await client.update_address(client_id, address)
            changed.append("remit-to address")
        attempt.step = "accounting"
        # Read even for a firm just created: saving it as a vendor may have created the row
        # already, and inserting over it answers a 500 (deltek-api.md §3.D).
        held = await client.get_vendor_accounting(client_id)
        accounting = firms.accounting_change(command, vendor, held, creating=creating)
        if accounting is not None:
            insert, values = accounting
            await attempt.hold(sending=job.content_hash)
            if insert:
                await client.insert_vendor_accounting(values)
            else:
                await client.update_vendor_accounting(client_id, values)
            changed.append("vendor accounting")
        if outcome == "updated" and not changed:
            outcome = "unchanged"
        await self._finish(job, client_id, vendor, outcome, tuple(changed), synced=firm)

    async def _find(
        self, client: DeltekClient, command: UpsertVendor, synced: str | None
    ) -> tuple[str, Firm] | Conflict | None:
        """The supplier's firm (see the module docstring for the order), read from Deltek."""
        if synced is not None and (firm := await client.get_firm(synced)) is not None:
            return "ledger", firm
        async with self.deps.pool.acquire() as conn:
            ref = await load_vendor_reference(conn, command.connection)
        mapped = firms.mapped_vendor(ref, command)
        decided = firms.decide(firms.cached_candidates(ref, command)) or firms.decide(
            await _live(client, command, mapped)
        )
        if decided is None or isinstance(decided, Conflict):
            return decided
        rule, candidate = decided
        firm = await client.get_firm(candidate.client_id)
        return None if firm is None else (rule, firm)

    async def _finish(
        self,
        job: Job[UpsertVendor],
        client_id: str,
        vendor: str | None,
        outcome: VendorOutcome,
        changed: tuple[str, ...] = (),
        *,
        synced: Firm | None = None,
    ) -> None:
        """Ledger, supplier map, cache and record in one transaction; then the result.

        ``synced`` is the firm as this handling left it (root keys), None for a redelivery the
        ledger answered; the cache takes Deltek's values, as fields left to Deltek may differ.
        """
        command = job.command
        vendor = vendor or ""
        details: dict[str, Any] = {"outcome": outcome, "client_id": client_id, "vendor": vendor}
        async with self.deps.pool.acquire() as conn, conn.transaction():
            if synced is not None:
                await ledger.record_step(
                    conn,
                    job.job_id,
                    "posted",
                    firm=(client_id, vendor),
                    content_hash=job.content_hash,
                )
                firm_now = Vendor(
                    client_id,
                    vendor,
                    synced.Name or command.name,
                    synced.Status or "A",
                    synced.FedID,
                )
                await cache_vendor(conn, command.connection, firm_now)
                key = command.coupa_number or str(command.coupa_id)
                await upsert_mappings(
                    conn, command.connection, "supplier", [(key, vendor)], source="vendor_sync"
                )
            if job.record_state == "posted":
                await self.report.audit(conn, job, "result_republished", details)
            else:
                await self.report.move(
                    conn,
                    job,
                    "posted",
                    "vendor_synced",
                    {**details, "changed": list(changed)},
                    deltek_ref=f"{client_id}/{vendor}",
                )
        result = VendorUpserted(
            job_id=job.job_id,
            record_key=command.record_key,
            client_id=client_id,
            vendor=vendor,
            outcome=outcome,
            changed=changed,
        )
        await self.report.publish(job, VENDOR_UPSERTED, result)
        self.deps.metrics.jobs.labels(job.connection, f"vendor_{outcome}").inc()


def _client_id(firm: Firm) -> str:
    if firm.ClientID is None:
        raise FatalError("Deltek answered a firm without a ClientID", status=200)
    return firm.ClientID


async def _live(
    client: DeltekClient, command: UpsertVendor, mapped: str | None
) -> list[tuple[str, list[Candidate]]]:
    """The same rules asked of Deltek, for firms the cache does not know (yet)."""
    rules = [
        ("supplier map", "Vendor", mapped),
        ("vendor number", "Vendor", command.vendor_number or command.coupa_number),
        ("tax id", "FedID", command.tax_id),
        ("name", "Name", command.name),
    ]
    found: list[tuple[str, list[Candidate]]] = []
    for rule, key, value in rules:
        if not value:
            continue
        firms_found = [
            Candidate(f.ClientID, f.Vendor, f.Name or "")
            async for f in client.iter_firms(FilterHash().where(key, value))
            if f.ClientID and f.VendorInd == "Y" and getattr(f, key) == value
        ]
        found.append((rule, firms_found))
        if firms_found:
            break
    return found
