"""Tolerant typed views of Vantagepoint records, in Deltek's own key names (deltek-api.md §2-§4).

Unknown keys (tenant UDFs named ``Cust*``, the ~120 other firm fields) are kept, never refused,
so a tenant upgrade cannot break parsing. Money is ``Decimal``; dates travel as Deltek writes
them, ``YYYY-MM-DDT00:00:00.000`` (§3.A).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer


def _parse_date(value: Any) -> Any:
    return value[:10] if isinstance(value, str) else value


DeltekDate = Annotated[
    date,
    BeforeValidator(_parse_date),
    PlainSerializer(lambda d: d.strftime("%Y-%m-%dT00:00:00.000"), return_type=str),
]


def _blank_wbs(value: Any) -> Any:
    """Blank WBS levels come back as " " or ""; both mean "none" (§3.A)."""
    return value.strip() if isinstance(value, str) else value


Wbs = Annotated[str, BeforeValidator(_blank_wbs)]


class DeltekRecord(BaseModel):
    """Base for every record: keeps extra keys and accepts numbers sent as strings."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_body(self) -> dict[str, Any]:
        """The record as a request body: only the keys that are set (PUT and POST act as PATCH)."""
        return self.model_dump(exclude_none=True)


class Firm(DeltekRecord):
    ClientID: str | None = None
    Client: str | None = None
    Name: str | None = None
    SortName: str | None = None
    Status: str | None = None
    VendorInd: str | None = None
    ClientInd: str | None = None
    Vendor: str | None = None
    Type: str | None = None
    FedID: str | None = None
    TypeOfTIN: str | None = None
    WebSite: str | None = None


class FirmAddress(DeltekRecord):
    CLAddressID: str | None = None
    ClientID: str | None = None
    Address: str | None = None
    PrimaryInd: str | None = None  # "true"/"false" strings, unlike firm flags (§2.2)
    Payment: str | None = None
    Billing: str | None = None
    Address1: str | None = None
    Address2: str | None = None
    City: str | None = None
    State: str | None = None
    Zip: str | None = None
    Country: str | None = None
    Email: str | None = None


class VendorAccounting(DeltekRecord):
    Vendor: str | None = None
    PayTerms: str | None = None
    PayTermsDesc: str | None = None
    Req1099: str | None = None
    DiscPct: Decimal | None = None
    DiscPeriod: int | None = None
    Company: str | None = None  # never sent empty: "Cannot insert NULL into Company column"


class Account(DeltekRecord):
    Account: str
    Name: str | None = None
    Type: int | str | None = None
    Status: str | None = None


class Project(DeltekRecord):
    WBS1: str
    WBS2: Wbs = ""
    WBS3: Wbs = ""
    WBSNumber: str | None = None
    Name: str | None = None
    ChargeType: str | None = None
    Status: str | None = None
    SubLevel: str | None = None
    ClientID: str | None = None
    Fee: Decimal | None = None


class BankCode(DeltekRecord):
    """A row of ``GET /BankCode/CFGBANKS``: a bank code vouchers may name as ``BankCode`` (§4)."""

    Code: str
    Description: str | None = None
    Company: str | None = None
    Org: str | None = None
    Account: str | None = None


class Period(DeltekRecord):
    Period: int
    AccountPdStart: DeltekDate | None = None
    AccountPdEnd: DeltekDate | None = None


class ApDetail(DeltekRecord):
    MasterPKey: str
    PKey: str
    Seq: int
    Amount: Decimal
    Batch: str | None = None
    Description: str | None = None
    WBS1: str | None = None
    WBS2: str | None = None
    WBS3: str | None = None
    Account: str | None = None
    NetAmount: Decimal | None = None
    SuppressBill: str | None = None
    PONumber: str | None = None


class ApMaster(DeltekRecord):
    MasterPKey: str
    Vendor: str
    Invoice: str
    InvoiceDate: DeltekDate
    TransDate: DeltekDate
    LiabCode: str
    BankCode: str
    PayTerms: str
    # Assigned by Vantagepoint unless the company requires entry (deltek-api.md §3.D): left out
    # of what we send by default, always present in what the tenant holds.
    Voucher: str | None = None
    PayDate: DeltekDate | None = None  # required with PayTerms "Date" (§3.D)
    Batch: str | None = None
    Address: str | None = None
    CurrencyCode: str | None = None
    Seq: int | None = None
    Posted: str | None = None
    Status: str | None = None


class ApBatch(DeltekRecord):
    """``apControl`` with its nested vouchers and lines: one POST creates all three (§3.A).

    Reading it back, a tenant may answer the header alone (§3.D): the vouchers and lines are
    read with ``DeltekClient.list_ap_vouchers`` / ``list_ap_lines``, never from these arrays.
    """

    Batch: str
    Period: int | None = None
    Company: str | None = None
    Description: str | None = None
    DefaultCurrencyCode: str | None = None
    Total: Decimal | None = None
    Creator: str | None = None
    Posted: str | None = None
    apMaster: list[ApMaster] = Field(default_factory=list)
    apDetail: list[ApDetail] = Field(default_factory=list)


class PostResult(DeltekRecord):
    """The decoded ``PostTransFile`` answer; each list is pipe-delimited per batch (§3.A)."""

    typeList: str = ""
    batchList: str = ""
    retList: str = ""
    periodList: str = ""
    postseqList: str = ""
    msg: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.retList) and all(r == "1" for r in self.retList.split("|"))


class LedgerRow(DeltekRecord):
    """A posted AP ledger row. The vendor-invoice column differs by tenant (``Invoice`` or
    ``InvoiceNumber``, §3.C), so it is kept as an extra key under whichever name came back."""

    Vendor: str | None = None
    Voucher: str | None = None
    Period: int | None = None
    PostSeq: int | None = None
    Batch: str | None = None
    WBS1: Wbs | None = None
    WBS2: Wbs | None = None
    WBS3: Wbs | None = None
    Account: str | None = None
    Amount: Decimal | None = None
    PONumber: str | None = None
