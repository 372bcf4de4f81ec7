"""The non-secret settings of a connection that the mapper and the poster act on.

The connections file (``connector connections apply``) carries these under ``mapping``,
``deltek``, ``coupa`` and ``reconcile``; secrets live apart, encrypted, and never reach these
models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

_SETTINGS = ConfigDict(frozen=True, extra="forbid")

# Vantagepoint's voucher payment terms are a closed set; Date needs a PayDate (deltek-api §3.D).
PayTerms = Literal["Next", "PWP", "Hold", "Date"]
# The vendor firm fields vendor sync writes, in the words a finance admin uses (``VendorFields``).
VendorField = Literal["name", "tax_id", "remit_to", "pay_terms", "form_1099", "status"]
# ``sync``: kept equal to Coupa; ``create``: written when vendor sync creates the firm and never
# changed after; ``never``: left to Deltek.
FieldSync = Literal["sync", "create", "never"]


class VendorFields(BaseModel):
    """How vendor sync writes each field of a Deltek vendor firm (``FieldSync``).

    ``name`` is Name and SortName (never ``never``: Deltek creates no firm without a name);
    ``tax_id`` is FedID and TypeOfTIN (still used to find the firm when not written);
    ``remit_to`` the payment address; ``pay_terms`` and ``form_1099`` the vendor accounting's
    PayTerms and Req1099; ``status`` active or inactive, where setting an existing firm
    inactive also needs ``MappingSettings.deactivate_vendors``.
    """

    model_config = _SETTINGS

    name: Literal["sync", "create"] = "sync"
    tax_id: FieldSync = "sync"
    remit_to: FieldSync = "sync"
    pay_terms: FieldSync = "sync"
    form_1099: FieldSync = "sync"
    status: FieldSync = "sync"

    def not_synced(self) -> dict[VendorField, FieldSync]:
        """The fields not kept equal to Coupa, and how each is written instead."""
        fields: tuple[VendorField, ...] = get_args(VendorField)
        return {name: how for name in fields if (how := getattr(self, name)) != "sync"}


class MappingSettings(BaseModel):
    """How a Coupa account's segments and an invoice's extra amounts become Deltek lines, and
    how Coupa suppliers become Deltek vendor firms.

    Segment numbers are 1-based, as Coupa names them (``segment-1`` .. ``segment-20``). A null
    project segment means the connection books to GL accounts only. With ``create_vendors`` the
    connector keeps a vendor firm per Coupa supplier; ``vendor_number_from_coupa`` sends Coupa's
    supplier number as the firm and vendor number, otherwise the tenant autonumbers them;
    ``vendor_fields`` says which firm fields are kept in sync, set on creation only, or left to
    Deltek.
    """

    model_config = _SETTINGS

    create_vendors: bool = False
    vendor_number_from_coupa: bool = False
    vendor_fields: VendorFields = VendorFields()
    # Off, an inactive or draft Coupa supplier never sets its existing firm inactive (Deltek may
    # still book other work to it); a new firm for one is created inactive all the same.
    deactivate_vendors: bool = False
    # The Coupa supplier custom field that says "1099 required"; None leaves Req1099 to Deltek.
    vendor_1099_field: str | None = None
    # Coupa payment-term code -> Deltek PayTerms (the PayTerms above), e.g. {"Due now": Next}.
    pay_terms: dict[str, PayTerms] = Field(default_factory=dict)
    # What a Coupa term with net days and no entry above becomes: "Date" (PayDate = invoice date
    # + the net days) or "Next" (the next check run).
    net_terms_as: Literal["Date", "Next"] = "Date"
    # ISO country codes to the names in the tenant's country table, over the built-in table.
    country_names: dict[str, str] = Field(default_factory=dict)
    gl_account_segment: int = Field(default=2, ge=1, le=20)
    project_segment: int | None = Field(default=1, ge=1, le=20)
    phase_segment: int | None = Field(default=3, ge=1, le=20)
    task_segment: int | None = Field(default=None, ge=1, le=20)
    # Deltek GL accounts for what Coupa carries on the invoice header rather than on a line.
    shipping_account: str | None = None
    handling_account: str | None = None
    misc_account: str | None = None
    tax_account: str | None = None


class DeltekPostingSettings(BaseModel):
    """Where vouchers go in Deltek, whether the poster also posts their batch, and the tenant
    settings that change what a voucher must carry (deltek-api.md §3.D).

    ``voucher_numbers``: ``assigned`` (Vantagepoint's default) leaves ``Voucher`` out and keeps
    the number the tenant assigned; ``ours`` sends a number derived from the job, for a company
    that requires entry of voucher numbers. ``ledger_invoice_column`` names the PSALedger/AP
    column holding the vendor's invoice number (``Invoice`` or ``InvoiceNumber`` on the tenants
    seen); unset, the poster finds it out once per connection and remembers it.
    """

    model_config = _SETTINGS

    company: str | None = None
    liability_code: str | None = None
    bank_code: str | None = None
    post_batches: bool = False
    voucher_numbers: Literal["assigned", "ours"] = "assigned"
    ledger_invoice_column: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class CoupaWriteBackSettings(BaseModel):
    """What the connector writes back to Coupa. ``mark_exported``: once Deltek holds an
    invoice's voucher, ingest flags the invoice ``exported`` in Coupa (coupa-api.md §3.3), so AP
    users there see what reached Deltek; off by default, since it needs ``core.invoice.write``.
    """

    model_config = _SETTINGS

    mark_exported: bool = False


class ReconcileSettings(BaseModel):
    """Whether the scheduled reconciliation (``connector reconcile --all``) covers the
    connection: each run spends Coupa and Deltek calls, and a connection still being set up
    (or one reconciled elsewhere) would only report noise. ``connector reconcile NAME`` runs
    whatever this says."""

    model_config = _SETTINGS

    enabled: bool = True


# ``preview``: the whole pipeline runs but the poster stops before any Deltek write and records
# what it would send (a shadow run before go-live); ``live`` writes.
Mode = Literal["preview", "live"]


class ConnectionSettings(BaseModel):
    """One connection's name and non-secret settings, as services receive them."""

    model_config = _SETTINGS

    name: str
    mode: Mode = "live"
    mapping: MappingSettings = MappingSettings()
    deltek: DeltekPostingSettings = DeltekPostingSettings()
    coupa: CoupaWriteBackSettings = CoupaWriteBackSettings()
    reconcile: ReconcileSettings = ReconcileSettings()

    @classmethod
    def from_stored(cls, name: str, stored: Mapping[str, Any]) -> ConnectionSettings:
        """From a stored connection's JSON; keys of its ``deltek`` and ``coupa`` sections that
        are not settings of these models (tenant URL, user...) are left out."""
        return cls(
            name=name,
            mode=stored.get("mode", "live"),
            mapping=MappingSettings.model_validate(stored.get("mapping") or {}),
            deltek=DeltekPostingSettings.model_validate(
                _known(stored, "deltek", DeltekPostingSettings)
            ),
            coupa=CoupaWriteBackSettings.model_validate(
                _known(stored, "coupa", CoupaWriteBackSettings)
            ),
            reconcile=ReconcileSettings.model_validate(stored.get("reconcile") or {}),
        )


def _known(stored: Mapping[str, Any], section: str, model: type[BaseModel]) -> dict[str, Any]:
    """The keys of ``stored[section]`` that ``model`` has."""
    return {
        key: value
        for key, value in (stored.get(section) or {}).items()
        if key in model.model_fields
    }
