"""A go-live planned without writing: every approved invoice and supplier, as the pipeline does.

Reads only: Coupa's approved invoices (with the purchase orders they cite) and suppliers, and
Deltek's reference data and AP look-ups, through the real clients (token requests and GETs).
The reference view is built straight from Deltek, not from the connector's cache, and the
explicit maps come from Postgres; each invoice then goes through the mapper's own rules
(``map_invoice``), the poster's own voucher builder (``build_batch``) and its own duplicate
look-up (``Booking.look_up``), so what the preview says is what the pipeline would do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from services.cli.progress import Tell as Progress
from services.mapper.rules.outcome import Parked
from services.mapper.rules.resolve import map_invoice
from services.mapper.rules.supplier import build_upsert_vendor
from services.mapper.rules.vendor import supplier_id
from services.poster import firms
from services.poster.booking import Booking, InDeltek
from services.poster.firms import Conflict
from services.poster.vendor_plan import FieldChange, changes_to, creation
from services.poster.voucher import VoucherError, build_batch
from shared.connection_settings import ConnectionSettings
from shared.coupa import CoupaClient
from shared.coupa.models import coupa_version
from shared.coupa.orders import cited_purchase_orders
from shared.deltek import DeltekClient
from shared.http import Backoff
from shared.messages import InvoiceApproved, PostApInvoice, UpsertVendor
from shared.reference.cache import KINDS, Kind, reference_from_rows
from shared.reference.refresh import FETCH
from shared.reference.view import Reference
from shared.tenant_facts import LedgerInvoices

InvoiceVerdict = Literal["post", "park", "in_deltek"]
VendorVerdict = Literal["create", "update", "unchanged", "park"]


@dataclass(frozen=True)
class InvoicePlan:
    """One approved Coupa invoice and what the connector would do with it."""

    coupa_id: str
    invoice_number: str
    supplier: str
    verdict: InvoiceVerdict
    command: PostApInvoice | None = None
    reasons: tuple[str, ...] = ()
    in_deltek: InDeltek | None = None


@dataclass(frozen=True)
class VendorPlan:
    """One Coupa supplier and what vendor sync would do to its Deltek firm."""

    coupa_id: str
    supplier: str
    verdict: VendorVerdict
    firm: str = ""  # "ClientID/vendor" of the firm found, "" for one to create
    changes: tuple[FieldChange, ...] = ()
    reasons: tuple[str, ...] = ()


@dataclass
class Plan:
    """Everything the preview found; ``summary`` is the one line the command ends with."""

    invoices: list[InvoicePlan] = field(default_factory=list)
    vendors: list[VendorPlan] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(1 for plan in self.invoices if plan.verdict == verdict)

    def vendors_to(self, verdict: str) -> int:
        return sum(1 for plan in self.vendors if plan.verdict == verdict)

    def summary(self) -> str:
        return (
            f"preview: {self.count('post')} invoices would post, {self.count('park')} would park, "
            f"{self.count('in_deltek')} already in Deltek; {self.vendors_to('create')} vendors "
            f"would be created, {self.vendors_to('update')} updated"
        )


async def read_reference(
    deltek: DeltekClient,
    maps: Mapping[str, Mapping[str, str]],
    kinds: tuple[Kind, ...] = KINDS,
) -> Reference:
    """The resolution view straight from Deltek (the same reads a cache refresh makes), of
    ``kinds`` only when less is needed (vendor sync needs only the vendor firms)."""
    rows = {kind: await FETCH[kind](deltek) for kind in kinds}
    return reference_from_rows(rows, maps)


async def read_suppliers(coupa: CoupaClient, progress: Progress) -> dict[str, dict[str, Any]]:
    """Every Coupa supplier's JSON by its id (the mapper matches tax ids on it)."""
    suppliers: dict[str, dict[str, Any]] = {}
    async for supplier in coupa.iter_suppliers():
        suppliers[str(supplier.id)] = supplier.raw
        progress("suppliers", 1)
    return suppliers


async def plan_invoices(
    coupa: CoupaClient,
    deltek: DeltekClient,
    settings: ConnectionSettings,
    ref: Reference,
    suppliers: Mapping[str, dict[str, Any]],
    *,
    ledger: LedgerInvoices,
    since: datetime,
    progress: Progress,
) -> list[InvoicePlan]:
    """Each approved invoice changed since ``since``, mapped, built and looked up in Deltek."""
    plans: list[InvoicePlan] = []
    async for invoice in coupa.iter_invoices(since=since, status="approved"):
        raw = invoice.raw
        event = InvoiceApproved(
            invoice=raw, purchase_orders=await cited_purchase_orders(coupa, raw)
        )
        supplier = suppliers.get(supplier_id(raw) or "")
        result = map_invoice(event, settings, ref, supplier)
        head = (
            str(invoice.id),
            invoice.invoice_number or "",
            (invoice.supplier.name if invoice.supplier else None) or "",
        )
        if isinstance(result, Parked):
            plans.append(InvoicePlan(*head, "park", reasons=result.reasons))
        else:
            plans.append(await _judge(deltek, ledger, settings, result.command, head))
        progress("invoices", 1)
    return plans


async def _judge(
    deltek: DeltekClient,
    ledger: LedgerInvoices,
    settings: ConnectionSettings,
    command: PostApInvoice,
    head: tuple[str, str, str],
) -> InvoicePlan:
    """A mapped invoice: already in Deltek, refused by the voucher builder, or to be posted."""
    try:
        body = build_batch(command, settings.deltek)
    except VoucherError as exc:
        return InvoicePlan(*head, "park", command=command, reasons=(str(exc),))
    # No write is made, so no lost answer is ever looked up: no look-ups, backoff or waits.
    booking = Booking(
        deltek, command, body, ledger=ledger, lookups=0, backoff=Backoff(), sleep=asyncio.sleep
    )
    found = await booking.look_up()
    if found is not None:
        return InvoicePlan(*head, "in_deltek", command=command, in_deltek=found)
    return InvoicePlan(*head, "post", command=command)


async def plan_vendors(
    deltek: DeltekClient,
    settings: ConnectionSettings,
    ref: Reference,
    suppliers: Mapping[str, dict[str, Any]],
) -> list[VendorPlan]:
    """What vendor sync would do for each supplier: create, update (field by field), nothing,
    or park. The reference view is read from Deltek just now, so its rules are the live ones."""
    plans: list[VendorPlan] = []
    for coupa_id, raw in suppliers.items():
        built = build_upsert_vendor(raw, settings, coupa_version(raw))
        if isinstance(built, Parked):
            plans.append(VendorPlan(coupa_id, _label(raw), "park", reasons=built.reasons))
            continue
        plans.append(await _plan_vendor(deltek, ref, coupa_id, built))
    return plans


def _label(raw: Mapping[str, Any]) -> str:
    return f"{raw.get('number') or raw.get('id')} {raw.get('name') or ''}".strip()


async def _plan_vendor(
    deltek: DeltekClient, ref: Reference, coupa_id: str, command: UpsertVendor
) -> VendorPlan:
    label = f"{command.coupa_number or command.coupa_id} {command.name}"
    decided = firms.decide(firms.cached_candidates(ref, command))  # the same rules as the sync
    if isinstance(decided, Conflict):
        reason = decided.reason(firms.supplier_label(command))  # the words the sync parks with
        return VendorPlan(coupa_id, label, "park", reasons=(reason,))
    firm = None if decided is None else await deltek.get_firm(decided[1].client_id)
    if firm is None:
        return VendorPlan(coupa_id, label, "create", changes=creation(command))
    changes = await changes_to(deltek, command, firm)
    verdict: VendorVerdict = "update" if changes else "unchanged"
    return VendorPlan(coupa_id, label, verdict, f"{firm.ClientID}/{firm.Vendor or ''}", changes)
