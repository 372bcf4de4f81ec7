"""In-memory state of the simulated Vantagepoint tenant, with the firm and reference-data rules.

Records are kept as plain dicts in Deltek's own key names so the routes can answer them as they
are; money is ``Decimal`` throughout. AP entry and posting live in ``entry.py``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]

# The company's valid voucher numbers (deltek-api.md §3.D: assigned numbers fall in a valid
# range); the simulated tenant hands them out in order, zero-padded like its other autonumbers.
VOUCHER_RANGE = range(1, 1_000_000)

# Firm root keys the simulator knows (deltek-api.md §2.3); tenant UDFs are named Cust*.
FIRM_KEYS = frozenset(
    [
        "ClientID",
        "Client",
        "Name",
        "SortName",
        "Status",
        "VendorInd",
        "ClientInd",
        "Vendor",
        "Type",
        "Category",
        "Org",
        "WebSite",
        "Memo",
        "FedID",
        "TypeOfTIN",
        "ParentID",
        "PrimaryAddress1",
        "PrimaryAddress2",
        "PrimaryCity",
        "PrimaryState",
        "PrimaryZip",
        "PrimaryCountry",
        "PrimaryPhone",
        "PrimaryFax",
        "PrimaryEmail",
        "ReadyForApproval",
        "ReadyForProcessing",
        "AvailableForCRM",
        "CreateUser",
        "CreateDate",
        "ModUser",
        "ModDate",
    ]
)
FIRM_CHILDREN = frozenset({"CLAddress", "VEAccounting"})
ADDRESS_KEYS = frozenset(
    [
        "CLAddressID",
        "ClientID",
        "Address",
        "PrimaryInd",
        "Payment",
        "Billing",
        "Address1",
        "Address2",
        "Address3",
        "City",
        "State",
        "Zip",
        "Country",
        "Phone",
        "FAX",
        "Email",
    ]
)
VE_ACCOUNTING_KEYS = frozenset(
    [
        "Vendor",
        "PayTerms",
        "PayTermsDesc",
        "Req1099",
        "DiscPct",
        "DiscPeriod",
        "ThisYear1099",
        "LastYear1099",
        "CheckPerVoucher",
        "MemoPrintOnCheck",
        "EFTAddenda",
        "EFTRemittance",
        "EFTClieOp",
        "Company",
    ]
)


class SimError(Exception):
    """A refusal answered as ``{"Message": text}`` with the given status (deltek-api.md §6)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def no_such_field(name: str) -> SimError:
    """The one wording for a key or filter column the table lacks, for bodies and ``filterHash``
    alike: Deltek's own text for an unknown body key (deltek-api.md §6, "Field FirmID does not
    exist."); what a tenant answers to a filter on a missing column is not documented (❓)."""
    return SimError(400, f"Field {name} does not exist.")


@dataclass
class Batch:
    """One AP file: the apControl header and its vouchers and lines."""

    control: Record
    masters: list[Record] = field(default_factory=list)
    details: list[Record] = field(default_factory=list)


@dataclass
class Store:
    """The tenant's data; ``rng`` makes generated keys deterministic after a seed."""

    rng: random.Random
    company: str = "01"
    currencies: set[str] = field(default_factory=set)
    countries: set[str] = field(default_factory=set)
    liab_codes: set[str] = field(default_factory=set)
    # Keyed by ``Code``; rows as ``GET /BankCode/CFGBANKS`` answers them (deltek-api.md §4).
    bank_codes: dict[str, Record] = field(default_factory=dict)
    firms: dict[str, Record] = field(default_factory=dict)
    addresses: dict[str, list[Record]] = field(default_factory=dict)
    ve_accounting: dict[str, Record] = field(default_factory=dict)
    accounts: dict[str, Record] = field(default_factory=dict)
    projects: list[Record] = field(default_factory=list)
    periods: list[Record] = field(default_factory=list)
    batches: dict[str, Batch] = field(default_factory=dict)
    ledger: list[Record] = field(default_factory=list)
    next_firm_number: int = 1
    next_vendor_number: int = 1
    next_voucher_number: int = VOUCHER_RANGE.start
    next_post_seq: int = 400

    def new_key(self) -> str:
        """A 32-hex GUID without dashes, the shape of ClientID and MasterPKey (§2.2)."""
        return f"{self.rng.getrandbits(128):032x}"

    # -- firms -------------------------------------------------------------------------------

    def firm(self, client_id: str) -> Record:
        found = self.firms.get(client_id)
        if found is None:
            raise SimError(404, f"Firm {client_id} not found.")
        return found

    def vendor_firm(self, vendor: str) -> Record | None:
        return next((f for f in self.firms.values() if f.get("Vendor") == vendor), None)

    def create_firm(
        self, body: Record, *, allow_override: bool, user: str, accounting_with_vendor: bool
    ) -> Record:
        """``accounting_with_vendor``: a vendor firm gets its vendor accounting row on save, as
        Vantagepoint may do by itself (deltek-api.md §3.D)."""
        _check_keys(body, FIRM_KEYS | FIRM_CHILDREN, custom_ok=True)
        if not allow_override and (body.get("Client") or body.get("Vendor")):
            raise SimError(
                400, "Firm Number value ignored, autonumber enabled and override is not allowed."
            )
        if not body.get("Name"):
            raise SimError(400, "Please provide a Name for table Clendor.")
        firm: Record = {key: None for key in FIRM_KEYS}
        firm.update({k: v for k, v in body.items() if k not in FIRM_CHILDREN})
        firm["ClientID"] = self.new_key()
        firm["Client"] = firm.get("Client") or self._autonumber("firm")
        if firm.get("VendorInd") == "Y" and not firm.get("Vendor"):
            firm["Vendor"] = self._autonumber("vendor")
        self._check_unique(firm)
        for flag in ("VendorInd", "ClientInd"):
            firm[flag] = firm.get(flag) or "N"
        firm["Status"] = firm.get("Status") or "A"
        firm["SortName"] = firm.get("SortName") or firm["Name"]
        firm["CreateUser"] = firm["ModUser"] = user
        self.firms[firm["ClientID"]] = firm
        self.addresses[firm["ClientID"]] = []
        self._saved(firm, body, accounting_with_vendor)
        return firm

    def update_firm(
        self, client_id: str, body: Record, user: str, *, accounting_with_vendor: bool
    ) -> Record:
        """PUT behaves as PATCH (§0); child arrays update addresses and vendor accounting."""
        firm = self.firm(client_id)
        _check_keys(body, FIRM_KEYS | FIRM_CHILDREN, custom_ok=True)
        candidate = {**firm, **{k: v for k, v in body.items() if k not in FIRM_CHILDREN}}
        candidate["ClientID"] = client_id
        self._check_unique(candidate, exclude=client_id)
        firm.update(candidate)
        firm["ModUser"] = user
        self._saved(firm, body, accounting_with_vendor)
        return firm

    def _saved(self, firm: Record, body: Record, accounting_with_vendor: bool) -> None:
        if accounting_with_vendor and firm.get("VendorInd") == "Y":
            self.ve_accounting.setdefault(firm["ClientID"], self._new_accounting(firm))
        self._apply_children(firm, body)

    def _new_accounting(self, firm: Record) -> Record:
        """The row a vendor firm gets on save: the vendor and company, no terms, flags off."""
        row: Record = {key: None for key in VE_ACCOUNTING_KEYS}
        row.update(Vendor=firm.get("Vendor"), Company=self.company, Req1099="N")
        return row

    def add_address(self, client_id: str, body: Record) -> Record:
        self.firm(client_id)
        _check_keys(body, ADDRESS_KEYS)
        if not body.get("Address"):
            raise SimError(400, "Please provide a Address for table CLAddress.")
        self._check_country(body)
        address: Record = {key: None for key in ADDRESS_KEYS}
        address.update(body)
        address.update(CLAddressID=self.new_key(), ClientID=client_id)
        for flag in ("PrimaryInd", "Payment"):
            address[flag] = address.get(flag) or "false"
        self.addresses[client_id].append(address)
        return address

    def insert_vendor_accounting(self, body: Record) -> Record:
        """``POST /vision/firm/VendorAccountingInfo``: insert only, never upsert (§2.3)."""
        _check_keys(body, VE_ACCOUNTING_KEYS)
        if "Company" in body and not body["Company"]:
            raise SimError(400, "Cannot insert NULL into Company column")
        firm = self.vendor_firm(str(body.get("Vendor") or ""))
        if firm is None or firm["ClientID"] in self.ve_accounting:
            raise SimError(500, "Object reference not set to an instance of an object.")
        row: Record = {key: None for key in VE_ACCOUNTING_KEYS}
        row.update(body, Company=body.get("Company") or self.company)
        self.ve_accounting[firm["ClientID"]] = row
        return row

    def _apply_children(self, firm: Record, body: Record) -> None:
        for change in body.get("VEAccounting") or []:
            _check_keys(change, VE_ACCOUNTING_KEYS)
            row = self.ve_accounting.setdefault(firm["ClientID"], self._new_accounting(firm))
            row.update(change)
        for change in body.get("CLAddress") or []:
            existing = next(
                (
                    a
                    for a in self.addresses[firm["ClientID"]]
                    if a["CLAddressID"] == change.get("CLAddressID")
                ),
                None,
            )
            if existing is None:
                self.add_address(firm["ClientID"], change)
            else:
                _check_keys(change, ADDRESS_KEYS)
                self._check_country(change)
                existing.update(change)

    def _check_unique(self, firm: Record, exclude: str | None = None) -> None:
        others = [f for f in self.firms.values() if f["ClientID"] != exclude]
        problems = []
        if any(f["Client"] == firm.get("Client") for f in others):
            problems.append(f"Firm Number already exists: {firm['Client']}.")
        if firm.get("Vendor") and any(f.get("Vendor") == firm["Vendor"] for f in others):
            problems.append(f"Vendor Number already exists: {firm['Vendor']}.")
        if problems:
            raise SimError(400, "<BR/>".join(problems))

    def _check_country(self, address: Record) -> None:
        country = address.get("Country")
        if country and country not in self.countries:
            raise SimError(400, f"Country Code {country} does not exist.")

    def assign_voucher(self) -> str:
        """The company's next voucher number, as Vantagepoint assigns it (deltek-api.md §3.D)."""
        taken = {m.get("Voucher") for b in self.batches.values() for m in b.masters}
        for number in range(self.next_voucher_number, VOUCHER_RANGE.stop):
            code = f"{number:06d}"
            if code not in taken:
                self.next_voucher_number = number + 1
                return code
        raise SimError(400, "No voucher numbers are left in the company's valid range.")

    def _autonumber(self, kind: str) -> str:
        """Zero-padded numbers, so clients must read ``Vendor`` back after a POST (§2.2)."""
        taken = {f.get("Client" if kind == "firm" else "Vendor") for f in self.firms.values()}
        while True:
            if kind == "firm":
                number, self.next_firm_number = self.next_firm_number, self.next_firm_number + 1
            else:
                number, self.next_vendor_number = (
                    self.next_vendor_number,
                    self.next_vendor_number + 1,
                )
            code = f"{number:06d}"
            if code not in taken:
                return code

    # -- reference data ----------------------------------------------------------------------

    def project(self, wbs1: str, wbs2: str = "", wbs3: str = "") -> Record | None:
        key = (wbs1.strip(), wbs2.strip(), wbs3.strip())
        return next(
            (p for p in self.projects if (p["WBS1"], p["WBS2"].strip(), p["WBS3"].strip()) == key),
            None,
        )

    def open_period(self, period: int) -> bool:
        return any(p["Period"] == period and p["Closed"] == "N" for p in self.periods)


def _check_keys(body: Record, allowed: frozenset[str], *, custom_ok: bool = False) -> None:
    """Unknown keys are refused by name (deltek-api.md §6: "Field FirmID does not exist.")."""
    for key in body:
        if key not in allowed and not (custom_ok and key.startswith("Cust")):
            raise no_such_field(key)
