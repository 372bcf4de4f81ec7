"""The purchase orders an invoice cites: which ones, what names a PO version, fetching them.

The mapper needs each cited PO (its number on every voucher line) and never calls Coupa itself,
so whoever hands an invoice to the mapper's rules attaches them: ingest's drain from its cache
(``services/ingest/po_cache.py``), fetching only what the cache lacks; ``connector preview`` and
the benchmark's naive script straight from Coupa with ``cited_purchase_orders``. Both fetch in
bulk (``po-number[in]``), and both leave out a PO Coupa does not know.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

from shared.coupa.client import CoupaClient
from shared.coupa.models import coupa_version
from shared.coupa.paging import coupa_instant


def _is_id(value: object) -> TypeGuard[int]:
    """A Coupa id is a JSON number; ``true`` is none, though Python counts it an int."""
    return isinstance(value, int) and not isinstance(value, bool)


def cited_order_lines(invoice: dict[str, Any]) -> dict[str, set[int]]:
    """Each PO number the invoice's lines cite, in line order, with the ids of the PO lines
    they cite (``order-line-id``, coupa-api.md §3.5): a cached PO that lacks one is older than
    the invoice."""
    cited: dict[str, set[int]] = {}
    for line in invoice.get("invoice-lines") or []:
        if not isinstance(line, dict):
            continue
        number = line.get("po-number") or line.get("order-header-num")
        if number in (None, ""):
            continue
        line_ids = cited.setdefault(str(number), set())
        order_line = line.get("order-line-id")
        if _is_id(order_line):
            line_ids.add(order_line)
    return cited


def cited_po_numbers(invoice: dict[str, Any]) -> list[str]:
    """The PO numbers an invoice's lines cite, each once, in line order."""
    return list(cited_order_lines(invoice))


@dataclass(frozen=True)
class OrderVersion:
    """One version of a PO as Coupa sent it, with what a cache keys and checks it by: its id and
    number, its ``updated-at`` as written (``version``) and as an instant, its lines' ids."""

    id: int
    number: str
    version: str
    updated_at: datetime
    line_ids: frozenset[int]
    body: dict[str, Any]

    @classmethod
    def of(cls, body: dict[str, Any]) -> OrderVersion | None:
        """The version ``body`` is; None when it lacks an id, a number or a readable
        ``updated-at``, since nothing would then tell when it changed: such a PO is attached
        to its invoice but never kept."""
        po_id, number, version = body.get("id"), body.get("po-number"), coupa_version(body)
        updated_at = coupa_instant(version)
        if not _is_id(po_id) or not number or not updated_at:
            return None
        lines = body.get("order-lines")
        line_ids = frozenset(
            line["id"]
            for line in (lines if isinstance(lines, list) else [])
            if isinstance(line, dict) and _is_id(line.get("id"))
        )
        return cls(po_id, str(number), version, updated_at, line_ids, body)


def by_number(orders: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Coupa's JSON of each PO by its number (unique in Coupa, coupa-api.md §4)."""
    return {str(order["po-number"]): order for order in orders if order.get("po-number")}


async def cited_purchase_orders(
    client: CoupaClient, invoice: dict[str, Any]
) -> list[dict[str, Any]]:
    """Coupa's JSON of every PO ``invoice`` cites that Coupa knows, in the order cited: one call
    for up to a page of POs, where it was one call a PO."""
    numbers = cited_po_numbers(invoice)
    found = by_number(await client.purchase_orders_by_number(numbers)) if numbers else {}
    return [found[number] for number in numbers if number in found]
