"""Payloads of the pipeline's messages: the contract between ingest, mapper and poster.

Events are past tense (``InvoiceApproved``), commands imperative (``PostApInvoice``); each rides in
an ``Envelope`` whose ``schema`` names it. Money is ``Decimal`` and travels as a string.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.connection_settings import FieldSync, PayTerms, VendorField
from shared.logs import scrub

INVOICE_APPROVED = "InvoiceApproved"
SUPPLIER_CHANGED = "SupplierChanged"
POST_AP_INVOICE = "PostApInvoice"
UPSERT_VENDOR = "UpsertVendor"
INVOICE_POSTED = "InvoicePosted"
VENDOR_UPSERTED = "VendorUpserted"
WRITE_FAILED = "WriteFailed"

VendorOutcome = Literal["created", "linked", "updated", "unchanged"]

_FROZEN = ConfigDict(frozen=True)


class InvoiceApproved(BaseModel):
    """An approved Coupa invoice as Coupa returned it, with the purchase orders its lines cite."""

    model_config = _FROZEN

    invoice: dict[str, Any]
    purchase_orders: list[dict[str, Any]] = Field(default_factory=list)


class SupplierChanged(BaseModel):
    """A Coupa supplier as Coupa returned it (remit-to addresses, tax id, payment term)."""

    model_config = _FROZEN

    supplier: dict[str, Any]


class ApLine(BaseModel):
    """One voucher line: where the money goes in Deltek, and where it came from in Coupa."""

    model_config = _FROZEN

    seq: int = Field(ge=1)
    description: str
    account: str
    wbs1: str | None = None
    wbs2: str | None = None
    wbs3: str | None = None
    amount: Decimal
    po_number: str | None = None
    source: Literal["line", "allocation", "charge", "tax"]
    coupa_line_id: int | None = None


class DeltekCommand(BaseModel):
    """What every command on ``deltek.writes`` carries: its job and the Coupa version behind it."""

    model_config = _FROZEN
    # Fields that say which version or when, not what Deltek should hold.
    NOT_CONTENT: ClassVar[frozenset[str]] = frozenset({"coupa_version"})

    job_id: str
    connection: str
    record_key: str
    coupa_id: int
    coupa_version: str

    def content_hash(self) -> str:
        """What Deltek should hold after this command, as a hash.

        For a voucher, a different hash for a posted job means "changed after post"; for a
        vendor firm, an equal hash for a synced job means "nothing to write". Fields at their
        default value are left out at any depth, so adding an optional field to a command
        leaves the hash of every earlier command as it was.
        """
        body = self.model_dump(mode="json", exclude=set(self.NOT_CONTENT), exclude_defaults=True)
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class PostApInvoice(DeltekCommand):
    """Enter (and, if the connection says so, post) one AP voucher for one Coupa invoice."""

    NOT_CONTENT = frozenset({"coupa_version", "approved_at"})

    invoice_number: str
    vendor: str
    invoice_date: date
    period: int
    currency: str
    pay_terms: PayTerms | None = None
    pay_date: date | None = None  # with pay_terms "Date" only
    is_credit_note: bool = False
    total: Decimal
    lines: tuple[ApLine, ...]
    approved_at: datetime | None = None


class VendorAddress(BaseModel):
    """The supplier's remit-to address as a Deltek firm address flagged for payment."""

    model_config = _FROZEN

    name: str
    address1: str | None = None
    address2: str | None = None
    address3: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None  # the name Deltek's country table holds, e.g. "United States"


class UpsertVendor(DeltekCommand):
    """Create or update the Deltek vendor firm of one Coupa supplier, writing only what differs.

    ``vendor_number`` is None when the tenant's autonumbering chooses it; ``req_1099``, the pay
    terms and the remit-to are None when the connection does not manage or never writes them.
    ``field_writes`` names the fields not kept equal to Coupa and how they are written instead
    (``create``: only when vendor sync creates the firm; ``never``: not at all); a field it does
    not name is kept in sync. Name and tax id travel even when not written: they find the firm.
    """

    coupa_number: str | None = None
    name: str
    sort_name: str
    vendor_number: str | None = None
    tax_id: str | None = None
    tin_type: str | None = None
    active: bool = True
    remit_to: VendorAddress | None = None
    pay_terms: PayTerms | None = None
    pay_terms_description: str | None = None
    req_1099: bool | None = None
    field_writes: dict[VendorField, FieldSync] = Field(default_factory=dict)


class InvoicePosted(BaseModel):
    """The poster's word that a job is in Deltek, and how it found out."""

    model_config = _FROZEN

    job_id: str
    record_key: str
    batch: str
    master_pkey: str
    outcome: Literal["created", "already_entered", "already_posted"]
    posted: bool
    voucher: str | None = None
    period: int | None = None
    post_seq: str | None = None


class VendorUpserted(BaseModel):
    """The poster's word that a supplier's Deltek vendor firm matches Coupa, and what it did."""

    model_config = _FROZEN

    job_id: str
    record_key: str
    client_id: str
    vendor: str
    outcome: VendorOutcome
    changed: tuple[str, ...] = ()


class WriteFailed(BaseModel):
    """A write Deltek refused (parked with Deltek's message) or that could not be done (failed)."""

    model_config = _FROZEN

    job_id: str
    record_key: str
    kind: Literal["parked", "failed", "flagged"]
    # Often Deltek's message verbatim: scrubbed, so no credential it quotes and no error page of
    # megabytes travels on (scrubbing twice changes nothing, so decoding one is harmless).
    reason: Annotated[str, AfterValidator(scrub)]


def invoice_job_id(connection: str, coupa_id: int | str) -> str:
    return f"{connection}:invoice:{coupa_id}"


def supplier_job_id(connection: str, coupa_id: int | str) -> str:
    return f"{connection}:supplier:{coupa_id}"
