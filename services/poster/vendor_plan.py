"""What vendor sync would write to a supplier's Deltek firm, field by field, without writing it.

Preview mode (a shadow run) records it in the audit trail instead of writing, and ``connector
preview`` / ``vendors sync --dry-run`` show it to a person. The decisions are ``firms.py``'s,
the same the writing path takes, so what is shown is what would be written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.poster import firms
from shared.deltek import DeltekClient, Firm
from shared.messages import UpsertVendor

# Keys that say which row a write goes to, not what it changes.
_IDENTIFYING = frozenset({"CLAddressID", "ClientID", "Vendor"})


@dataclass(frozen=True)
class FieldChange:
    """One field vendor sync would write: where (firm, remit-to, vendor accounting) and how."""

    part: str
    name: str
    in_deltek: str
    from_coupa: str


def creation(command: UpsertVendor) -> tuple[FieldChange, ...]:
    """Everything a new firm would get: root keys, remit-to address, vendor accounting."""
    changes = _diff("firm", firms.new_firm(command).to_body(), {})
    if (address := firms.address_change(command, [], creating=True)) is not None:
        changes += _diff("remit-to", address.to_body(), {})
    if (accounting := firms.accounting_change(command, "", None, creating=True)) is not None:
        changes += _diff("vendor accounting", accounting[1].to_body(), {})
    return changes


async def changes_to(
    client: DeltekClient, command: UpsertVendor, firm: Firm, *, creating: bool = False
) -> tuple[FieldChange, ...]:
    """What would change on an existing firm (reads its addresses and vendor accounting);
    ``creating`` for a firm vendor sync created but has not finished writing."""
    client_id = firm.ClientID or ""
    addresses = await client.list_addresses(client_id)
    held = await client.get_vendor_accounting(client_id)
    changes = _diff("firm", firms.firm_changes(command, firm), firm.model_dump())
    if (address := firms.address_change(command, addresses, creating=creating)) is not None:
        old = next((a for a in addresses if a.CLAddressID == address.CLAddressID), None)
        current = old.model_dump() if old is not None and address.CLAddressID else {}
        changes += _diff("remit-to", address.to_body(), current)
    accounting = firms.accounting_change(command, firm.Vendor or "", held, creating=creating)
    if accounting is not None:
        current = held.model_dump() if held is not None else {}
        changes += _diff("vendor accounting", accounting[1].to_body(), current)
    return changes


def _diff(part: str, wanted: Mapping[str, Any], held: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(part, key, _shown(held.get(key)), _shown(value))
        for key, value in wanted.items()
        if key not in _IDENTIFYING
    )


def _shown(value: object) -> str:
    return "" if value is None else str(value)
