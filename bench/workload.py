"""The invoices the benchmarks approve, and the clock they are approved by.

Every invoice bills a purchase order made for the run, and orders are shared: about
``INVOICES_PER_ORDER`` invoices per order, drawn at random, so some orders are billed once and
some several times, as a subcontractor bills one PO month after month. Invoices are created
pending, outside any timing, then approved in the Coupa simulator (which fires each one's Call
Out) either at once or at a steady rate, each approval's moment noted.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import aiohttp

from devstack.driver import Invoice, approve, create_invoice, create_purchase_order

INVOICES_PER_ORDER = 3


@dataclass(frozen=True)
class Approval:
    """An invoice as Coupa answered its approval, and when (``time.time()``) it was approved."""

    invoice: Invoice
    at: float


async def pending_invoices(
    http: aiohttp.ClientSession, coupa: str, count: int, seed: int
) -> list[Invoice]:
    """``count`` new pending invoices over ``count // INVOICES_PER_ORDER`` new purchase orders."""
    rng = random.Random(seed)
    orders = [
        await create_purchase_order(http, coupa) for _ in range(max(1, count // INVOICES_PER_ORDER))
    ]
    return [await create_invoice(http, coupa, po_id=rng.choice(orders)["id"]) for _ in range(count)]


async def approve_all(
    http: aiohttp.ClientSession, coupa: str, invoices: list[Invoice], rate: float | None = None
) -> list[Approval]:
    """Approve each invoice, one after another, or with ``rate`` that many per second."""
    started = time.monotonic()
    approvals = []
    for n, invoice in enumerate(invoices):
        if rate is not None:
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        at = time.time()
        approvals.append(Approval(await approve(http, coupa, invoice["id"]), at))
    return approvals
