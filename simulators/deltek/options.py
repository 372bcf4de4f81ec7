"""Settings of the Deltek Vantagepoint simulator, fixed at start and patchable at run time.

Where deltek-api.md marks a behaviour as inferred or unsure, it is an option here. Defaults:

* Credentials: ``strict_credentials=False`` accepts any client id, secret, user, password and
  database so a new user can point a client at the simulator at once.
* ``password_grant_enabled=True``; when False the token endpoint answers the OAuth error
  ``unauthorized_client`` (the exact Deltek text is undocumented, §1.4).
* ``token_lifetime_seconds=1799`` (Deltek's example, §1.1); ``rotate_refresh_token=True``
  (rotation is undocumented, §1.2, so clients must store whatever comes back).
* ``restricted_role=False``; when True every amount field reads as zero (single source, §1.4).
* ``duplicate_batch="append"``: a second ``POST /DataEntry/apControl`` with an existing Batch
  adds its vouchers to that batch (whether Deltek rejects it is unconfirmed, §3.C). Appending is
  the pessimistic choice: a blind retry shows up as a double booking in tests.
* ``autonumber="allow_override"``: ``Client``/``Vendor`` may be sent or left to autonumbering
  (zero-padded, §2.2); ``"no_override"`` refuses sent numbers with Deltek's message.
* ``ledger_reject_limit=True``: ``GET /PSALedger/AP?limit=`` answers 500 (§3.C, 🟡).
* ``vendor_accounting_404_until_insert=True`` (§2.1, "some tenants").
* ``post_status=201`` for creating POSTs (§6; Postman shows 200 for some, clients accept both).
* ``default_page_size=None``: without ``limit``/``pageSize`` a listing returns every row (§5
  documents no default).
* ``in_operator="list"``: ``filterHash`` takes ``in`` with a comma-separated list, as one source
  documents (§5: the simulator accepts both sources' operators); the ways a tenant may not
  know it: ``"literal"`` reads the list as one value (as ``=``), ``"refused"`` answers 400,
  ``"first_only"``/``"last_only"`` honour one element, ``"capped"`` only the first 10.
* ``ascending_order="refused"``: ``order=Column_D`` sorts descending as documented (§5), but
  ``_A`` (and a bare ``order=Column``) is only inferred to sort ascending, so by default it
  answers 400; ``"honoured"`` sorts ascending, ``"ignored"`` answers rows unsorted.
* ``ledger_invoice_key="Invoice"``: PSALedger's vendor-invoice key, seen as ``Invoice`` and
  ``InvoiceNumber`` (§3.C). A ``filterHash`` on the other one (or any column the ledger lacks)
  is refused as Vantagepoint refuses unknown fields, never answered with an empty list (§3.D).

The facts of §3.D that decide whether a real tenant accepts a voucher are enforced by default;
each has an option for the other reading:

* ``voucher_numbers="assigned"``: Vantagepoint numbers vouchers from the company's own sequence
  and refuses an entered ``Voucher``; ``"entry_required"`` refuses a voucher without one and
  keeps the number sent.
* ``batch_read="header"``: ``GET`` (and the ``POST`` answer of) ``DataEntry/apControl`` carry the
  batch header only; vouchers and lines are read from ``apMaster/{batch}`` and
  ``apDetail/{batch}``. ``"nested"`` adds ``apMaster[]`` and ``apDetail[]`` to that answer.
* ``vendor_accounting="with_firm"``: saving a firm with ``VendorInd = Y`` creates its vendor
  accounting row, so a later insert answers the 500 NPE; ``"on_insert"`` creates it only on
  ``POST /vision/firm/VendorAccountingInfo``.
* ``pay_terms="closed_set"``: ``PayTerms`` of vouchers and vendor accounting take only ``Next``,
  ``PWP``, ``Hold`` or ``Date``, and a voucher with ``Date`` needs a ``PayDate``; ``"any"``
  accepts any text (``payterms.py``).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LedgerInvoiceKey = Literal["Invoice", "InvoiceNumber"]
VoucherNumbers = Literal["assigned", "entry_required"]
BatchRead = Literal["header", "nested"]
VendorAccountingRows = Literal["with_firm", "on_insert"]
PayTermsCheck = Literal["closed_set", "any"]
InOperator = Literal["list", "literal", "refused", "first_only", "last_only", "capped"]
AscendingOrder = Literal["refused", "honoured", "ignored"]


class Credentials(BaseModel):
    """What a strict simulator expects on the password and refresh grants."""

    model_config = ConfigDict(frozen=True)

    client_id: str = "coupa-connector"
    client_secret: str = "sim-secret"  # noqa: S105 - a simulator's published demo value
    username: str = "COUPA_API"
    password: str = "sim-password"  # noqa: S105 - a simulator's published demo value
    database: str = "ACME_PROD"


class SeedOptions(BaseModel):
    """Size and anchor of the generated data set; the same seed gives the same data."""

    model_config = ConfigDict(frozen=True)

    seed: int = 42
    vendors: int = Field(default=300, ge=0)
    projects: int = Field(default=40, ge=0)
    # Periods are generated around this day; None means today (so a demo posts into open ones).
    today: date | None = None


class SimOptions(BaseModel):
    """Everything that shapes the simulator's behaviour; see the module docstring for defaults."""

    instance: str = ""  # mounts the API under /{instance}/api and /{instance}/vision when set
    strict_credentials: bool = False
    credentials: Credentials = Credentials()
    password_grant_enabled: bool = True
    token_lifetime_seconds: int = Field(default=1799, ge=1)
    rotate_refresh_token: bool = True
    restricted_role: bool = False
    duplicate_batch: Literal["append", "reject"] = "append"
    autonumber: Literal["allow_override", "no_override"] = "allow_override"
    ledger_reject_limit: bool = True
    vendor_accounting_404_until_insert: bool = True
    post_status: Literal[200, 201] = 201
    default_page_size: int | None = None
    ledger_invoice_key: LedgerInvoiceKey = "Invoice"
    in_operator: InOperator = "list"
    ascending_order: AscendingOrder = "refused"
    voucher_numbers: VoucherNumbers = "assigned"
    batch_read: BatchRead = "header"
    vendor_accounting: VendorAccountingRows = "with_firm"
    pay_terms: PayTermsCheck = "closed_set"
    seed: SeedOptions = SeedOptions()


class RuntimePatch(BaseModel):
    """The options ``POST /_admin/options`` may change while the simulator runs."""

    model_config = ConfigDict(extra="forbid")

    strict_credentials: bool | None = None
    password_grant_enabled: bool | None = None
    token_lifetime_seconds: int | None = Field(default=None, ge=1)
    restricted_role: bool | None = None
    duplicate_batch: Literal["append", "reject"] | None = None
    autonumber: Literal["allow_override", "no_override"] | None = None
    ledger_invoice_key: LedgerInvoiceKey | None = None
    in_operator: InOperator | None = None
    ascending_order: AscendingOrder | None = None
    voucher_numbers: VoucherNumbers | None = None
    batch_read: BatchRead | None = None
    vendor_accounting: VendorAccountingRows | None = None
    pay_terms: PayTermsCheck | None = None
