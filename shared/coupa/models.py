"""Tolerant views of Coupa JSON: the fields we use typed (money as Decimal), the rest kept as is."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr


def _hyphen(name: str) -> str:
    return name.replace("_", "-")


class CoupaModel(BaseModel):
    """Unknown keys are allowed and kept; ``raw`` is the object exactly as Coupa sent it."""

    model_config = ConfigDict(extra="allow", alias_generator=_hyphen, populate_by_name=True)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Self:
        model = cls.model_validate(data)
        model._raw = data
        return model

    @property
    def raw(self) -> dict[str, Any]:
        return self._raw


class Ref(CoupaModel):
    """An association abbreviated to its id and natural keys (supplier, currency, ...)."""

    id: int | None = None
    name: str | None = None
    code: str | None = None
    number: str | None = None


class Account(CoupaModel):
    id: int | None = None
    code: str | None = None
    name: str | None = None


class Allocation(CoupaModel):
    """One share of a split-accounted line."""

    account: Account | None = None
    amount: Decimal | None = None
    pct: Decimal | None = None


class CoupaInvoiceLine(CoupaModel):
    id: int
    line_num: int | None = None
    type: str | None = None
    description: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    total: Decimal | None = None
    tax_amount: Decimal | None = None
    po_number: str | None = None
    order_line_id: int | None = None
    account: Account | None = None
    account_allocations: list[Allocation] = []


class CoupaInvoice(CoupaModel):
    id: int
    invoice_number: str | None = None
    status: str | None = None
    document_type: str | None = None
    exported: bool | None = None
    updated_at: datetime | None = None
    invoice_date: datetime | None = None
    currency: Ref | None = None
    supplier: Ref | None = None
    tax_amount: Decimal | None = None
    shipping_amount: Decimal | None = None
    handling_amount: Decimal | None = None
    misc_amount: Decimal | None = None
    gross_total: Decimal | None = None
    total_with_taxes: Decimal | None = None
    invoice_lines: list[CoupaInvoiceLine] = []


class CoupaOrderLine(CoupaModel):
    id: int
    line_num: str | None = None
    description: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    total: Decimal | None = None
    account: Account | None = None


class CoupaPurchaseOrder(CoupaModel):
    id: int
    po_number: str | None = None
    status: str | None = None
    updated_at: datetime | None = None
    currency: Ref | None = None
    supplier: Ref | None = None
    order_lines: list[CoupaOrderLine] = []


class RemitTo(CoupaModel):
    id: int | None = None
    remit_to_code: str | None = None
    name: str | None = None
    active: bool | None = None


class CoupaSupplier(CoupaModel):
    id: int
    name: str | None = None
    number: str | None = None
    status: str | None = None
    tax_id: str | None = None
    updated_at: datetime | None = None
    payment_term: Ref | None = None
    remit_to_addresses: list[RemitTo] = []
