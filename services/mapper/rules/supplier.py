"""Turn one Coupa supplier into an ``UpsertVendor`` command, or park it with the reason (pure).

Choices where the documents are silent (deltek-api.md §2, coupa-api.md §5):

- The firm's ``Name`` and ``SortName`` are Coupa's ``name`` (unique in Coupa, at most 100
  characters); ``display-name`` is a label, not a legal name.
- Which fields are written is the connection's ``mapping.vendor_fields``: kept in sync, set
  when the firm is created only, or never (then not even read from Coupa, so a field Deltek
  owns cannot park the supplier). The command names every field not kept in sync; the poster
  (``firms.py``) applies that, so preview, dry run and the real write decide alike.
- A new firm for an ``inactive`` or ``draft`` supplier is created inactive, so no invoice is
  booked on a supplier Coupa does not let buyers use; an existing firm is set inactive only
  with ``mapping.deactivate_vendors``, since Deltek may book other work to it. Its status is
  then written on creation only, while an active supplier's firm is made active again.
- The vendor number is Coupa's ``number`` when the connection says so, else left out so the
  tenant's autonumbering picks it (the poster reads it back).
- ``FedID`` is the tax id as Coupa holds it; ``TypeOfTIN`` is ``EIN`` for ``NN-NNNNNNN`` and
  ``SSN`` for ``NNN-NN-NNNN`` (the US shapes); any other shape is sent without a type.
- The remit-to is the first active remit-to address, named ``Remit`` in Deltek, flagged
  primary and for payment as in deltek-api.md §8.2. Its country code becomes the name Deltek's
  country table holds ("USA" is refused, "United States" works, §2.3) through a small table the
  connection can extend; an unknown code parks the supplier rather than guess.
- Pay terms are Coupa's payment term translated to Deltek's closed set as for invoices
  (``pay_terms.py``); a supplier without one leaves the firm's terms to Deltek, and a term the
  connection cannot translate parks the supplier. The 1099 flag is the connection's custom
  field, when set.
- Bank details are not copied: they are not on Coupa's supplier object (coupa-api.md §5) and
  deltek-api.md documents no firm key for them.
"""

from __future__ import annotations

import re
from typing import Any

from services.mapper.rules.outcome import Parked, Problem
from services.mapper.rules.pay_terms import DeltekTerms, translate
from shared.connection_settings import ConnectionSettings, FieldSync, MappingSettings, VendorField
from shared.coupa.models import CoupaSupplier
from shared.kafka.envelope import record_key
from shared.messages import UpsertVendor, VendorAddress, supplier_job_id

# ISO 3166 codes to the names Vantagepoint's default country table uses.
COUNTRY_NAMES = {
    "US": "United States",
    "CA": "Canada",
    "MX": "Mexico",
    "GB": "United Kingdom",
    "IE": "Ireland",
    "DE": "Germany",
    "FR": "France",
    "NL": "Netherlands",
    "ES": "Spain",
    "IT": "Italy",
    "AU": "Australia",
    "NZ": "New Zealand",
    "IN": "India",
    "JP": "Japan",
}
REMIT_ADDRESS_NAME = "Remit"
_EIN = re.compile(r"^\d{2}-?\d{7}$")
_SSN = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_YES = frozenset({"true", "y", "yes", "1"})


def tin_type(tax_id: str | None) -> str | None:
    if tax_id is None:
        return None
    if _SSN.match(tax_id):
        return "SSN"
    return "EIN" if _EIN.match(tax_id) else None


def supplier_name(supplier: CoupaSupplier) -> str:
    """How a clerk knows the supplier: its number and name."""
    number = supplier.number or f"with Coupa id {supplier.id}"
    return f"Coupa supplier {number}" + (f" ({supplier.name})" if supplier.name else "")


def remit_to(supplier: CoupaSupplier, countries: dict[str, str]) -> VendorAddress | str | None:
    """The first active remit-to as a firm address; a reason when its country is unknown."""
    chosen = next((a for a in supplier.remit_to_addresses if a.active), None)
    if chosen is None:
        return None
    code = chosen.country
    name = None
    if code is not None:
        name = countries.get(code.upper())
        if name is None:
            return (
                f"{supplier_name(supplier)} has a remit-to address in country {code}, which has "
                "no Deltek country name; add it to the connection's mapping.country_names"
            )
    return VendorAddress(
        name=REMIT_ADDRESS_NAME,
        address1=chosen.street1,
        address2=chosen.street2,
        address3=chosen.street3,
        city=chosen.city,
        state=chosen.state,
        zip=chosen.postal_code,
        country=name,
    )


def build_upsert_vendor(
    raw: dict[str, Any], settings: ConnectionSettings, version: str
) -> UpsertVendor | Parked:
    """The command that makes the supplier's Deltek firm match it, or why there is none.

    ``raw`` is Coupa's JSON as the message carries it; every field of a supplier is read
    tolerantly, so reading it never raises.
    """
    supplier = CoupaSupplier.from_api(raw)
    mapping = settings.mapping
    if supplier.id is None or supplier.name is None:
        return Parked(("The message carries no Coupa supplier with an id and a name",))
    active = supplier.status == "active"
    writes = field_writes(mapping, active=active)
    countries = {**COUNTRY_NAMES, **mapping.country_names}
    address = remit_to(supplier, countries) if writes.get("remit_to") != "never" else None
    if isinstance(address, str):
        return Parked((address,))
    term = supplier.payment_term if writes.get("pay_terms") != "never" else None
    terms: DeltekTerms | None = None
    if term is not None and term.code is not None:
        label = f"Coupa supplier {supplier.number or supplier.id} ({supplier.name})"
        translated = translate(term, mapping, owner=label, invoice_date=None)
        if isinstance(translated, Problem):
            return Parked.of([translated])
        terms = translated
    req_1099 = None
    if mapping.vendor_1099_field is not None and writes.get("form_1099") != "never":
        flag = (supplier.custom_fields or {}).get(mapping.vendor_1099_field)
        req_1099 = str(flag).strip().lower() in _YES
    return UpsertVendor(
        job_id=supplier_job_id(settings.name, supplier.id),
        connection=settings.name,
        record_key=record_key(settings.name, "supplier", supplier.id),
        coupa_id=supplier.id,
        coupa_version=version,
        coupa_number=supplier.number,
        name=supplier.name,
        sort_name=supplier.name,
        vendor_number=supplier.number if mapping.vendor_number_from_coupa else None,
        tax_id=supplier.tax_id,
        tin_type=tin_type(supplier.tax_id),
        active=active,
        remit_to=address,
        pay_terms=terms.terms if terms else None,
        pay_terms_description=(term.description or term.code) if terms and term else None,
        req_1099=req_1099,
        field_writes=writes,
    )


def field_writes(mapping: MappingSettings, *, active: bool) -> dict[VendorField, FieldSync]:
    """The connection's fields not kept in sync; an inactive supplier's status is written only
    to a firm being created, unless the connection lets vendor sync deactivate firms."""
    writes = mapping.vendor_fields.not_synced()
    if not active and not mapping.deactivate_vendors and "status" not in writes:
        writes["status"] = "create"
    return writes
