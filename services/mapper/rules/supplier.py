"""Turn one Coupa supplier into an ``UpsertVendor`` command, or park it with the reason (pure).

Choices where the documents are silent (deltek-api.md §2, coupa-api.md §5):

- The firm's ``Name`` and ``SortName`` are Coupa's ``name`` (unique in Coupa, at most 100
  characters); ``display-name`` is a label, not a legal name.
- Only ``active`` suppliers make active firms; ``inactive`` and ``draft`` ones make inactive
  firms, so an invoice can never be booked on a supplier Coupa does not let buyers use.
- The vendor number is Coupa's ``number`` when the connection says so, else left out so the
  tenant's autonumbering picks it (the poster reads it back).
- ``FedID`` is the tax id as Coupa holds it; ``TypeOfTIN`` is ``EIN`` for ``NN-NNNNNNN`` and
  ``SSN`` for ``NNN-NN-NNNN`` (the US shapes); any other shape is sent without a type.
- The remit-to is the first active remit-to address, named ``Remit`` in Deltek, flagged
  primary and for payment as in deltek-api.md §8.2. Its country code becomes the name Deltek's
  country table holds ("USA" is refused, "United States" works, §2.3) through a small table the
  connection can extend; an unknown code parks the supplier rather than guess.
- Pay terms are Coupa's payment-term code, translated by the connection's ``pay_terms`` where
  the tenant names them differently; the 1099 flag is the connection's custom field, when set.
- Bank details are not copied: they are not on Coupa's supplier object (coupa-api.md §5) and
  deltek-api.md documents no firm key for them.
"""

from __future__ import annotations

import re
from typing import Any

from services.mapper.rules.outcome import Parked
from services.mapper.rules.values import clean
from shared.connection_settings import ConnectionSettings
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


def supplier_name(supplier: dict[str, Any]) -> str:
    """How a clerk knows the supplier: its number and name."""
    number = clean(supplier.get("number")) or f"with Coupa id {supplier.get('id')}"
    name = clean(supplier.get("name"))
    return f"Coupa supplier {number}" + (f" ({name})" if name else "")


def remit_to(supplier: dict[str, Any], countries: dict[str, str]) -> VendorAddress | str | None:
    """The first active remit-to as a firm address; a reason when its country is unknown."""
    addresses = [a for a in supplier.get("remit-to-addresses") or [] if isinstance(a, dict)]
    chosen = next((a for a in addresses if a.get("active", True)), None)
    if chosen is None:
        return None
    country = chosen.get("country")
    code = clean(country.get("code") if isinstance(country, dict) else country)
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
        address1=clean(chosen.get("street1")),
        address2=clean(chosen.get("street2")),
        address3=clean(chosen.get("street3")),
        city=clean(chosen.get("city")),
        state=clean(chosen.get("state")),
        zip=clean(chosen.get("postal-code")),
        country=name,
    )


def build_upsert_vendor(
    supplier: dict[str, Any], settings: ConnectionSettings, version: str
) -> UpsertVendor | Parked:
    """The command that makes the supplier's Deltek firm match it, or why there is none."""
    mapping = settings.mapping
    coupa_id = supplier.get("id")
    name = clean(supplier.get("name"))
    if not isinstance(coupa_id, int) or name is None:
        return Parked(("The message carries no Coupa supplier with an id and a name",))
    address = remit_to(supplier, {**COUNTRY_NAMES, **mapping.country_names})
    if isinstance(address, str):
        return Parked((address,))
    number = clean(supplier.get("number"))
    tax_id = clean(supplier.get("tax-id"))
    term = supplier.get("payment-term")
    term = term if isinstance(term, dict) else {}
    code = clean(term.get("code"))
    req_1099 = None
    if mapping.vendor_1099_field is not None:
        custom = supplier.get("custom-fields")
        flag = (custom if isinstance(custom, dict) else {}).get(mapping.vendor_1099_field)
        req_1099 = str(flag).strip().lower() in _YES
    return UpsertVendor(
        job_id=supplier_job_id(settings.name, coupa_id),
        connection=settings.name,
        record_key=record_key(settings.name, "supplier", coupa_id),
        coupa_id=coupa_id,
        coupa_version=version,
        coupa_number=number,
        name=name,
        sort_name=name,
        vendor_number=number if mapping.vendor_number_from_coupa else None,
        tax_id=tax_id,
        tin_type=tin_type(tax_id),
        active=clean(supplier.get("status")) == "active",
        remit_to=address,
        pay_terms=None if code is None else mapping.pay_terms.get(code, code),
        pay_terms_description=clean(term.get("description")),
        req_1099=req_1099,
    )
