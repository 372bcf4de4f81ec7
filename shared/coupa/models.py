"""Tolerant views of Coupa JSON: the fields we use typed (money as Decimal), the rest kept as is."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError

# Beyond this an "amount" is no invoice amount (Deltek keeps 19 digits, 4 after the point).
_LARGEST_AMOUNT = Decimal(10) ** 15
_NOT_AN_OBJECT = frozenset({"model_type", "dict_type"})

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


# Coupa tells integrators not to validate strictly, so each field type reads whatever arrives:
# only a list or object of the wrong shape, or an amount that is no number, is refused.


def _text(value: object) -> str | None:
    """Trimmed text; None for null, blank, or an object or list (not a text at all)."""
    if value is None or isinstance(value, dict | list):
        return None
    return str(value).strip() or None


def _amount(value: object) -> Decimal | None:
    """Coupa amounts are strings (coupa-api §3.6); ``Decimal(text)`` never goes via float.

    A JSON number (an older API version) is read through its text too. Anything that is not a
    finite amount below 10**15 is refused, naming the value, so the invoice can say what it is.
    """
    text = _text(value)
    if text is None:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not an amount") from exc
    # copy_abs, unlike abs(), does not round in the context: 1e9999999 is refused, not overflowed.
    if not amount.is_finite() or amount.copy_abs() >= _LARGEST_AMOUNT:
        raise ValueError(f"{text!r} is not an amount")
    return amount


def timestamp_of(value: object) -> datetime | None:
    """An ISO 8601 datetime (Coupa writes offsets, e.g. ``-08:00``); None when absent or bad."""
    text = _text(value)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _whole(value: object) -> int | None:
    """Ids and counts: a JSON number or digits; None for anything else (true, -1, 2.5, "x")."""
    digits = _text(value)
    if digits is None or not (digits.isascii() and digits.isdigit()):
        return None
    try:
        return int(digits)
    except ValueError:  # more digits than Python converts: no id either
        return None


def _none_if_empty(value: object) -> object:
    return None if value == {} else value


def _object_or_none(value: object) -> object:
    return value if isinstance(value, dict) else None


def _none_as_empty(value: object) -> object:
    return [] if value is None else value


def _objects_only(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _code(value: object) -> str | None:
    return _text(value.get("code")) if isinstance(value, dict) else _text(value)


Text = Annotated[str | None, BeforeValidator(_text)]
Amount = Annotated[Decimal | None, BeforeValidator(_amount)]
Timestamp = Annotated[datetime | None, BeforeValidator(timestamp_of)]
Whole = Annotated[int | None, BeforeValidator(_whole)]
# Coupa sends JSON booleans; anything else counts as Python's truth of it, never refused.
Flag = Annotated[bool, BeforeValidator(bool)]
# An object the invoice depends on: null or ``{}`` is none, anything but an object is refused.
Association = Annotated[M | None, BeforeValidator(_none_if_empty)]
# An object nothing depends on (a payment term, custom fields): anything else is none.
Loose = Annotated[T | None, BeforeValidator(_object_or_none)]
# A list whose every item counts (invoice lines, charges): null is empty, other shapes refused.
Objects = Annotated[list[M], BeforeValidator(_none_as_empty)]
# A list to choose from (remit-to addresses): its objects, anything else left out.
LooseObjects = Annotated[list[M], BeforeValidator(_objects_only)]
# A country as an object with a code, or as the code alone.
CountryCode = Annotated[str | None, BeforeValidator(_code)]


class UnreadableError(ValueError):
    """Coupa JSON of a shape, or with an amount, that cannot be read; names each such field."""


def coupa_version(body: Mapping[str, Any]) -> str:
    """A Coupa object's version: its ``updated-at`` as Coupa wrote it (the underscore spelling
    is accepted too, coupa-api.md §3.2); "" when it has none. Ingest, records and the mapper
    all name versions through this one function, so they always agree."""
    return str(body.get("updated-at") or body.get("updated_at") or "")


def _hyphen(name: str) -> str:
    return name.replace("_", "-")


def _described(error: Mapping[str, Any]) -> str:
    """One validation error in Coupa's words, e.g. ``invoice-lines item 2 is not an object``."""
    steps = (f"item {step + 1}" if isinstance(step, int) else step for step in error["loc"])
    where = " ".join(steps) or "the body"
    if error["type"] in _NOT_AN_OBJECT:
        return f"{where} is not an object"
    if error["type"] == "list_type":
        return f"{where} is not a list"
    return f"{where}: {error.get('ctx', {}).get('error', error['msg'])}"


class CoupaModel(BaseModel):
    """Unknown keys are allowed and kept; ``raw`` is the object exactly as Coupa sent it."""

    # Keys are read by their Coupa (hyphenated) names only: ``invoice_number`` is an unknown key.
    model_config = ConfigDict(extra="allow", alias_generator=_hyphen)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Self:
        """The view of ``data``; ``UnreadableError`` names every field it cannot be built from."""
        try:
            model = cls.model_validate(data)
        except ValidationError as exc:
            raise UnreadableError("; ".join(_described(e) for e in exc.errors())) from exc
        model._raw = data
        return model

    @property
    def raw(self) -> dict[str, Any]:
        return self._raw


class Ref(CoupaModel):
    """An association abbreviated to its id and natural keys (supplier, currency, ...)."""

    id: Whole = None
    name: Text = None
    code: Text = None
    number: Text = None


class Currency(Ref):
    """A currency; ``decimals`` is how many places its amounts have, when Coupa says."""

    decimals: Whole = None


class PaymentTerm(Ref):
    description: Text = None
    days_for_net_payment: Whole = None


class Account(CoupaModel):
    """A Coupa account: a code over up to twenty segments (``segment-1`` to ``segment-20``)."""

    id: Whole = None
    code: Text = None
    name: Text = None

    def segment(self, number: int) -> str | None:
        """Segment ``number`` as text; which segment means what is each connection's setting."""
        return _text((self.model_extra or {}).get(f"segment-{number}"))


class NotAnObject(BaseModel):
    """Stands for a value Coupa sent where an object belongs, so that the one line holding it
    can say so while the rest of the invoice is read."""


def _coded(value: object) -> object:
    if not value:
        return None
    return value if isinstance(value, dict) else NotAnObject()


# The account a line, share or charge is coded to: none when null or empty, and something
# that is not an object kept as such rather than refused (only that line cannot be coded).
CodedAccount = Annotated[
    Account | NotAnObject | None, Field(union_mode="left_to_right"), BeforeValidator(_coded)
]


class Allocation(CoupaModel):
    """One share of a split-accounted line."""

    account: CodedAccount = None
    amount: Amount = None
    pct: Amount = None


class CoupaInvoiceLine(CoupaModel):
    id: Whole = None
    line_num: Text = None
    description: Text = None
    total: Amount = None
    tax_amount: Amount = None
    po_number: Text = None
    order_header_num: Text = None
    order_line_id: Whole = None
    account: CodedAccount = None
    account_allocations: Objects[Allocation] = []


class CoupaInvoiceCharge(CoupaModel):
    """A charge listed in ``invoice-charges`` (shipping, handling, miscellaneous, ...)."""

    type: Text = None
    description: Text = None
    total: Amount = None
    account: CodedAccount = None


class CoupaInvoiceHeader(CoupaModel):
    """What names an invoice and where it stands: every field tolerant, so this view can be read
    from any object, even one whose lines or amounts cannot."""

    id: Whole = None
    invoice_number: Text = None
    status: Text = None

    @property
    def version(self) -> str:
        """``updated-at`` exactly as Coupa wrote it, which is how records name a version."""
        return coupa_version(self.raw)


class CoupaInvoice(CoupaInvoiceHeader):
    document_type: Text = None
    updated_at: Timestamp = None
    invoice_date: Timestamp = None
    currency: Association[Currency] = None
    supplier: Association[Ref] = None
    payment_term: Loose[PaymentTerm] = None
    tax_amount: Amount = None
    tax_rate: Text = None
    line_level_taxation: Flag = False
    shipping_amount: Amount = None
    handling_amount: Amount = None
    misc_amount: Amount = None
    gross_total: Amount = None
    total_with_taxes: Amount = None
    invoice_lines: Objects[CoupaInvoiceLine] = []
    invoice_charges: Objects[CoupaInvoiceCharge] = []


class CoupaOrderLine(CoupaModel):
    id: Whole = None
    order_header_number: Text = None


class CoupaPurchaseOrder(CoupaModel):
    id: Whole = None
    po_number: Text = None
    order_lines: Objects[CoupaOrderLine] = []


class RemitTo(CoupaModel):
    """A remit-to address; active unless Coupa says otherwise."""

    active: Flag = True
    street1: Text = None
    street2: Text = None
    street3: Text = None
    city: Text = None
    state: Text = None
    postal_code: Text = None
    country: CountryCode = None


class CoupaSupplier(CoupaModel):
    """Every field tolerant: a supplier always reads, whatever Coupa sent."""

    id: Whole = None
    name: Text = None
    number: Text = None
    status: Text = None
    tax_id: Text = None
    updated_at: Timestamp = None
    payment_term: Loose[PaymentTerm] = None
    remit_to_addresses: LooseObjects[RemitTo] = []
    custom_fields: Loose[dict[str, Any]] = None
