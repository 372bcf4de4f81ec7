"""What a supplier's Deltek vendor firm should hold, and how it differs from what it holds (pure).

``decide`` picks the firm from candidates found rule by rule (the firm synced before, the
supplier map, vendor number, tax id, exact name): the first rule that finds any decides, and
two or more firms under one rule are a conflict for a person, never a guess. The ``*_changes``
functions compare the command with Deltek's current record and return only the keys that
differ, so an unchanged supplier costs reads and no write. Blank and missing values compare
equal, and a value Coupa does not have never blanks one Deltek has.

Only the fields the command keeps in sync are compared with an existing firm; a field written
on creation only (``UpsertVendor.field_writes``) is written to a firm vendor sync is creating,
and a ``never`` field not at all. These functions are the one place that decides it: the
writing path, preview mode and ``vendors sync --dry-run`` all ask them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.connection_settings import VendorField
from shared.deltek import Firm, FirmAddress, VendorAccounting
from shared.messages import UpsertVendor
from shared.reference.view import Reference, Vendor, norm_name, norm_tax_id

# deltek-api.md §8.2: the keys a first vendor-accounting insert carries besides terms and 1099.
_ACCOUNTING_DEFAULTS: dict[str, Any] = {
    "DiscPct": Decimal(0),
    "DiscPeriod": 0,
    "ThisYear1099": Decimal(0),
    "LastYear1099": Decimal(0),
    "CheckPerVoucher": "N",
    "MemoPrintOnCheck": "N",
    "EFTAddenda": "N",
    "EFTRemittance": "N",
    "EFTClieOp": "N",
}
_ADDRESS_KEYS = {
    "Address1": "address1",
    "Address2": "address2",
    "Address3": "address3",
    "City": "city",
    "State": "state",
    "Zip": "zip",
    "Country": "country",
}


@dataclass(frozen=True)
class Candidate:
    client_id: str
    vendor: str | None
    name: str

    def label(self) -> str:
        return f"{self.vendor or 'no vendor number'} {self.name} (ClientID {self.client_id})"


@dataclass(frozen=True)
class Conflict:
    """Several Deltek firms match one rule: a person chooses (e.g. with ``mappings import``)."""

    rule: str
    candidates: tuple[Candidate, ...]

    def reason(self, supplier: str) -> str:
        shown = "; ".join(c.label() for c in self.candidates)
        return (
            f"{supplier} matches {len(self.candidates)} Deltek firms by {self.rule} ({shown}); "
            "map the supplier to one of them and replay it"
        )


def decide(found: list[tuple[str, list[Candidate]]]) -> tuple[str, Candidate] | Conflict | None:
    """The rule and firm of the first rule that found any; a conflict when it found several."""
    for rule, candidates in found:
        unique = tuple({c.client_id: c for c in candidates}.values())
        if len(unique) == 1:
            return rule, unique[0]
        if unique:
            return Conflict(rule, unique)
    return None


def supplier_label(command: UpsertVendor) -> str:
    """How a clerk knows the supplier in a reason: its Coupa number (else id) and name."""
    return f"Coupa supplier {command.coupa_number or command.coupa_id} ({command.name})"


def mapped_vendor(ref: Reference, command: UpsertVendor) -> str | None:
    """The Deltek value the supplier map names for this supplier (by Coupa id or number)."""
    return ref.mapped("supplier", str(command.coupa_id), command.coupa_number)


def cached_candidates(ref: Reference, command: UpsertVendor) -> list[tuple[str, list[Candidate]]]:
    """The firms each rule finds in the reference view, in the order the rules decide."""
    mapped = mapped_vendor(ref, command)
    # A mapped Deltek value is a vendor number or a ClientID, as in the mapper.
    known = (
        (ref.vendors_by_number.get(mapped) or ref.vendors_by_client.get(mapped)) if mapped else None
    )
    number = command.vendor_number or command.coupa_number
    return [
        ("supplier map", _candidates(known)),
        ("vendor number", _candidates(ref.vendors_by_number.get(number or ""))),
        ("tax id", _candidates(*ref.vendors_by_tax_id.get(norm_tax_id(command.tax_id) or "", ()))),
        ("name", _candidates(*ref.vendors_by_name.get(norm_name(command.name) or "", ()))),
    ]


def _candidates(*vendors: Vendor | None) -> list[Candidate]:
    return [Candidate(v.client_id, v.vendor, v.name) for v in vendors if v is not None]


def _same(a: object, b: object) -> bool:
    def norm(value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    return (norm(a) or None) == (norm(b) or None)


def _written(command: UpsertVendor, field: VendorField, *, creating: bool) -> bool:
    """Whether ``field`` is written now: a synced one always, a create-only one only to a firm
    vendor sync is creating, a ``never`` one not at all."""
    how = command.field_writes.get(field, "sync")
    return how == "sync" or (how == "create" and creating)


def _wanted_root(command: UpsertVendor, *, creating: bool) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    if _written(command, "name", creating=creating):
        wanted |= {"Name": command.name, "SortName": command.sort_name}
    if _written(command, "status", creating=creating):
        wanted["Status"] = "A" if command.active else "I"
    wanted["VendorInd"] = "Y"  # the firm's vendor role, whatever else is written
    if _written(command, "tax_id", creating=creating):
        if command.tax_id is not None:
            wanted["FedID"] = command.tax_id
        if command.tin_type is not None:
            wanted["TypeOfTIN"] = command.tin_type
    return wanted


def new_firm(command: UpsertVendor) -> Firm:
    """The ``POST /firm`` body; without a vendor number the tenant autonumbers (§2.2)."""
    body = {**_wanted_root(command, creating=True), "ClientInd": "N"}
    if command.vendor_number is not None:
        body |= {"Client": command.vendor_number, "Vendor": command.vendor_number}
    return Firm.model_validate(body)


def firm_changes(command: UpsertVendor, firm: Firm) -> dict[str, Any]:
    """Root keys to ``PUT``; an existing vendor number is never changed (a key conversion,
    §2.2), only given to a firm that has none."""
    current = firm.model_dump()
    wanted = _wanted_root(command, creating=False)
    changes = {k: v for k, v in wanted.items() if not _same(current.get(k), v)}
    if command.vendor_number is not None and not firm.Vendor:
        changes["Vendor"] = command.vendor_number
    return changes


def _remit_of(addresses: list[FirmAddress], name: str) -> FirmAddress | None:
    paying = [a for a in addresses if (a.Payment or "").strip().lower() == "true"]
    named = [a for a in addresses if a.Address == name]
    chosen = named or paying
    return chosen[0] if chosen else None


def address_change(
    command: UpsertVendor, addresses: list[FirmAddress], *, creating: bool
) -> FirmAddress | None:
    """The remit-to to add (no ``CLAddressID``) or the keys of it to change; None if it matches
    or is not written now."""
    wanted = command.remit_to
    if wanted is None or not _written(command, "remit_to", creating=creating):
        return None
    values = {key: getattr(wanted, attr) for key, attr in _ADDRESS_KEYS.items()}
    flags = {"PrimaryInd": "true", "Payment": "true"}
    current = _remit_of(addresses, wanted.name)
    if current is None:
        body = {"Address": wanted.name, **flags, **{k: v for k, v in values.items() if v}}
        return FirmAddress.model_validate(body)
    held = current.model_dump()
    differ = {k: v for k, v in {**values, **flags}.items() if not _same(held.get(k), v)}
    if not differ:
        return None
    return FirmAddress.model_validate({"CLAddressID": current.CLAddressID, **differ})


def _wanted_accounting(command: UpsertVendor, *, creating: bool) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    if command.pay_terms is not None and _written(command, "pay_terms", creating=creating):
        wanted["PayTerms"] = command.pay_terms
        wanted["PayTermsDesc"] = command.pay_terms_description or command.pay_terms
    if command.req_1099 is not None and _written(command, "form_1099", creating=creating):
        wanted["Req1099"] = "Y" if command.req_1099 else "N"
    return wanted


def accounting_change(
    command: UpsertVendor, vendor: str, current: VendorAccounting | None, *, creating: bool
) -> tuple[bool, VendorAccounting] | None:
    """(insert?, values) for vendor accounting; None when it matches or nothing is written."""
    wanted = _wanted_accounting(command, creating=creating)
    if not wanted:
        return None
    if current is None:
        return True, VendorAccounting.model_validate(
            {"Vendor": vendor, **_ACCOUNTING_DEFAULTS, **wanted}
        )
    held = current.model_dump()
    differ = {k: v for k, v in wanted.items() if not _same(held.get(k), v)}
    return (False, VendorAccounting.model_validate(differ)) if differ else None
