"""Which Deltek vendor a Coupa supplier is: explicit map, then vendor number, tax id, exact name.

The first rule that finds something decides; a later rule never overrides an earlier one, so an
inactive vendor found by number parks the invoice rather than falling through to a name match
that may be another firm. A tax id or name shared by several vendors picks the only active one
if there is exactly one, else parks as ambiguous: guessing a payee is worse than waiting.

An invoice parked for an inactive vendor waits for the ``inactive_vendor`` kind rather than
``supplier``: the supplier has its vendor, which someone must reactivate (or map elsewhere), so
``connector mappings check`` counts it apart from the suppliers that lack one.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from services.mapper.rules.outcome import Problem
from shared.coupa.models import Association, CoupaSupplier, Ref
from shared.reference.view import Reference, Vendor, norm_name, norm_tax_id

INACTIVE_VENDOR = "inactive_vendor"
_INVOICE_SUPPLIER: TypeAdapter[Ref | None] = TypeAdapter(Association[Ref])


def supplier_label(invoice_supplier: Ref) -> str:
    """How a clerk knows the supplier: its Coupa number, else its id."""
    return str(invoice_supplier.number or invoice_supplier.id or "?")


def supplier_id(invoice: dict[str, Any]) -> str | None:
    """The Coupa id of the supplier an invoice (Coupa's JSON) names, to look up its record; None
    when it names none, or cannot be read. Only the ``supplier`` field is read, as
    ``CoupaInvoice`` reads it: this runs for every message, and an invoice unreadable elsewhere
    parks anyway, before any vendor is looked for."""
    try:
        named = _INVOICE_SUPPLIER.validate_python(invoice.get("supplier"))
    except ValidationError:
        return None
    return str(named.id) if named is not None and named.id is not None else None


def resolve_vendor(
    invoice_supplier: dict[str, Any] | None,
    supplier: dict[str, Any] | None,
    ref: Reference,
) -> Vendor | Problem:
    """:func:`vendor_for` over Coupa's JSON, as records store it (every field of both is read
    tolerantly, so this never raises)."""
    named = Ref.from_api(invoice_supplier) if invoice_supplier else None
    record = CoupaSupplier.from_api(supplier) if supplier is not None else None
    return vendor_for(named, record, ref)


def vendor_for(
    invoice_supplier: Ref | None,
    supplier: CoupaSupplier | None,
    ref: Reference,
) -> Vendor | Problem:
    """The Deltek vendor for the invoice's supplier, or why there is none usable.

    ``invoice_supplier`` is the (often shallow) supplier object on the invoice; ``supplier`` is
    the full Coupa supplier record, when one was received, and is where the tax id comes from.
    """
    if invoice_supplier is None:
        return Problem("The Coupa invoice names no supplier")
    coupa_id = str(invoice_supplier.id) if invoice_supplier.id is not None else None
    number = invoice_supplier.number
    name = invoice_supplier.name or (supplier.name if supplier else None)
    label = f"Coupa supplier {supplier_label(invoice_supplier)}"
    if name:
        label += f" ({name})"
    wait = {"kind": "supplier", "coupa_value": coupa_id or number or "", "label": label}

    explicit = ref.mapped("supplier", coupa_id, number)
    if explicit is not None:
        vendor = ref.vendors_by_number.get(explicit) or ref.vendors_by_client.get(explicit)
        if vendor is None:
            return Problem(
                f"{label} is mapped to Deltek vendor {explicit}, which is not in the Deltek "
                "vendor list",
                wait,
            )
        return _usable(vendor, label, wait)
    if number and (vendor := ref.vendors_by_number.get(number)) is not None:
        return _usable(vendor, label, wait)
    tax_id = norm_tax_id(supplier.tax_id if supplier else None)
    for rule, key, index in (
        ("tax id", tax_id, ref.vendors_by_tax_id),
        ("name", norm_name(name), ref.vendors_by_name),
    ):
        if key is None or key not in index:
            continue
        found = _single(index[key])
        if isinstance(found, Vendor):
            return _usable(found, label, wait)
        names = ", ".join(f"{v.vendor or v.client_id} {v.name}" for v in found)
        return Problem(
            f"{label} matches {len(found)} Deltek vendors by {rule} ({names}); map it explicitly",
            wait,
        )
    return Problem(f"{label} has no Deltek vendor", wait)


def _single(vendors: tuple[Vendor, ...]) -> Vendor | tuple[Vendor, ...]:
    if len(vendors) == 1:
        return vendors[0]
    active = [v for v in vendors if v.active]
    return active[0] if len(active) == 1 else vendors


def _usable(vendor: Vendor, label: str, wait: dict[str, str]) -> Vendor | Problem:
    if not vendor.active:
        return Problem(
            f"Deltek vendor {vendor.vendor or vendor.client_id} ({vendor.name}) for {label} "
            "is inactive",
            {**wait, "kind": INACTIVE_VENDOR},
        )
    if not vendor.vendor:
        return Problem(
            f"Deltek firm {vendor.name} for {label} is not set up as a vendor (no vendor number)",
            wait,
        )
    return vendor
