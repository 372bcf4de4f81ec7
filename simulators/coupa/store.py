"""In-memory state of the Coupa simulator: the seeded records and the changes made through APIs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from simulators.coupa.invoices import build_invoice
from simulators.coupa.options import CoupaSimOptions
from simulators.coupa.records import Record, stamp
from simulators.coupa.seed import Seeder

Listener = Callable[[str, Record], None]
RESOURCES = ("invoices", "purchase_orders", "suppliers")


class NotFound(KeyError):
    """No record of that kind has that id."""


class CoupaStore:
    """Records by resource and id, in Coupa JSON form; events go to listeners (Call Outs)."""

    def __init__(
        self, options: CoupaSimOptions, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.tz = timezone(timedelta(minutes=options.utc_offset_minutes))
        self._clock = clock or (lambda: datetime.now(self.tz))
        self._options = options
        self.listeners: list[Listener] = []
        self.reseed(options.seed)

    def reseed(self, seed: int) -> None:
        """Replace all data with the deterministic set for ``seed``."""
        self.seeder = Seeder(seed, self._options.size, self._options.utc_offset_minutes)
        data = self.seeder.build()
        data.ids_above = self._options.ids_above
        self.collections: dict[str, dict[int, Record]] = {
            "invoices": data.invoices,
            "purchase_orders": data.purchase_orders,
            "suppliers": data.suppliers,
        }

    def now(self) -> str:
        return stamp(self._clock().astimezone(self.tz))

    def get(self, resource: str, record_id: int) -> Record:
        try:
            return self.collections[resource][record_id]
        except KeyError:
            raise NotFound(f"{resource}/{record_id}") from None

    def _emit(self, resource: str, record: Record) -> None:
        for listener in self.listeners:
            listener(resource, record)

    def set_exported(self, invoice_id: int, exported: bool = True) -> Record:
        """The ERP export flag; Coupa stamps ``last-exported-at`` with it (coupa-api.md §3.3)."""
        record = self.get("invoices", invoice_id)
        record["exported"] = exported
        record["last-exported-at"] = self.now() if exported else record["last-exported-at"]
        if self._options.export_touches_updated_at:
            record["updated-at"] = self.now()
        return record

    def update_invoice(self, invoice_id: int, changes: Record) -> Record:
        """A PUT without the export flag: merge known keys (custom fields merge one level)."""
        record = self.get("invoices", invoice_id)
        for key, value in changes.items():
            if key == "custom-fields" and isinstance(value, dict):
                record["custom-fields"] = {**record.get("custom-fields", {}), **value}
            elif key in record and key not in ("id", "created-at", "updated-at", "exported"):
                record[key] = value
        record["updated-at"] = self.now()
        return record

    def create_invoice(self, supplier_id: int | None, po_id: int | None, status: str) -> Record:
        """A new invoice built like the seeded ones, for the admin API and demos."""
        suppliers = self.collections["suppliers"]
        po = self.get("purchase_orders", po_id) if po_id is not None else None
        if po is not None:
            supplier_id = po["supplier"]["id"]
        elif supplier_id is None:
            supplier_id = self.seeder.rng.choice(sorted(suppliers))
        supplier = self.get("suppliers", supplier_id)
        moment = self._clock().astimezone(self.tz)
        record = build_invoice(self.seeder, supplier, po, status, moment)
        record["exported"] = False
        record["last-exported-at"] = None
        self.collections["invoices"][record["id"]] = record
        if status == "approved":
            self._emit("invoices", record)
        return record

    def create_purchase_order(self, fields: Record | None = None) -> Record:
        """A new issued purchase order built like the seeded ones (random supplier, 1-8 lines),
        ``fields`` merged in, stamped now, for invoices made later to cite (benchmarks, demos)."""
        record = self.seeder.purchase_order()
        record["status"] = "issued"
        record["created-at"] = self.now()
        return self._change_purchase_order(record, fields or {})

    def revise_purchase_order(self, po_id: int, changes: Record) -> Record:
        """A buyer's revision re-sent to the supplier: ``changes`` merged in, a new ``version``,
        and ``exported`` reset to false, as Coupa does (coupa-api.md §4)."""
        record = self.get("purchase_orders", po_id)
        record["version"] += 1
        record["internal-revision"] += 1
        record["exported"] = False
        return self._change_purchase_order(record, changes)

    def _change_purchase_order(self, record: Record, changes: Record) -> Record:
        """Merge ``changes`` (hyphenated keys) and stamp the order now; its lines keep naming it
        by its number (``order-header-number`` = ``po-number``, §4)."""
        for key, value in changes.items():
            if key not in ("id", "created-at", "updated-at"):
                record[key] = copy.deepcopy(value)
        for line in record["order-lines"]:
            line["order-header-number"] = record["po-number"]
        record["updated-at"] = self.now()
        return record

    def approve_invoice(self, invoice_id: int, *, callout: bool = True) -> Record:
        """What an approver's click does: status ``approved``, a new ``updated-at``, a Call Out.

        ``callout=False`` is a push that never arrives (not configured, or lost on the way):
        only the poll can find that invoice.
        """
        record = self.get("invoices", invoice_id)
        record["status"] = "approved"
        record["updated-at"] = self.now()
        if callout:
            self._emit("invoices", record)
        return record

    def void_invoice(self, invoice_id: int, *, callout: bool = True) -> Record:
        """What ``PUT /api/invoices/:id/void`` does to an approved invoice (coupa-api.md §3.1):
        status ``voided``, a new ``updated-at``, and the invoice Call Out of the change."""
        record = self.get("invoices", invoice_id)
        if record["status"] not in ("approved", "pending_receipt"):
            raise ValueError(f"invoice {invoice_id} is {record['status']}, it cannot be voided")
        record["status"] = "voided"
        record["updated-at"] = self.now()
        if callout:
            self._emit("invoices", record)
        return record

    def create_supplier(self, fields: dict[str, Any]) -> Record:
        """A new supplier built like the seeded ones, ``fields`` merged in; fires its Call Out."""
        record = self.seeder.supplier(len(self.collections["suppliers"]))
        record["created-at"] = self.now()
        return self.update_supplier(record["id"], fields)

    def update_supplier(self, supplier_id: int, changes: dict[str, Any]) -> Record:
        """Merge ``changes`` (hyphenated keys) into a supplier, as an edit in Coupa would."""
        record = self.get("suppliers", supplier_id)
        for key, value in changes.items():
            if key not in ("id", "created-at", "updated-at"):
                record[key] = copy.deepcopy(value)
        record["updated-at"] = self.now()
        self._emit("suppliers", record)
        return record
