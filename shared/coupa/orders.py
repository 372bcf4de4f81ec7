"""The purchase orders an invoice cites, fetched from Coupa, as ingest attaches them to events.

The mapper needs each cited PO (its number on every voucher line) and never calls Coupa itself,
so whoever hands an invoice to the mapper's rules (ingest's drain, ``connector preview``) fetches
them the same way with this one function.
"""

from __future__ import annotations

from typing import Any

from shared.coupa.client import CoupaClient


def cited_po_numbers(invoice: dict[str, Any]) -> list[str]:
    """The PO numbers an invoice's lines cite, each once, in line order."""
    numbers: list[str] = []
    for line in invoice.get("invoice-lines") or []:
        if not isinstance(line, dict):
            continue
        number = line.get("po-number") or line.get("order-header-num")
        if number not in (None, "") and str(number) not in numbers:
            numbers.append(str(number))
    return numbers


async def cited_purchase_orders(
    client: CoupaClient, invoice: dict[str, Any]
) -> list[dict[str, Any]]:
    """Coupa's JSON of every PO ``invoice`` cites that Coupa knows (by PO number)."""
    orders = []
    for number in cited_po_numbers(invoice):
        order = await client.get_purchase_order_by_number(number)
        if order is not None:
            orders.append(order.raw)
    return orders
