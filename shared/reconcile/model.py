"""What a reconciliation compares and what it finds: three plain inputs and the findings.

Each side is reduced to the few facts the comparison needs, by its reader, so the comparison
itself (``classify``) needs no client, database or clock. Amounts are ``Decimal`` and signed as
booked: a credit note is negative on every side.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum


class Kind(StrEnum):
    """The class of a finding; every invoice of the period gets exactly one."""

    MATCHED = "matched"
    MISSING_IN_DELTEK = "missing_in_deltek"
    NOT_FROM_COUPA = "not_from_coupa"
    AMOUNT_MISMATCH = "amount_mismatch"
    VENDOR_MISMATCH = "vendor_mismatch"
    LINE_MISMATCH = "line_mismatch"
    CHANGED_IN_COUPA = "changed_in_coupa"
    POSTED_TWICE = "posted_twice"


@dataclass(frozen=True, order=True)
class Line:
    """A voucher line as compared: where the money goes and how much (blank WBS is "")."""

    account: str
    wbs1: str
    wbs2: str
    wbs3: str
    amount: Decimal


@dataclass(frozen=True)
class CoupaSide:
    """A Coupa invoice as Coupa holds it now."""

    coupa_id: int
    invoice_number: str
    supplier: str
    status: str
    total: Decimal | None  # signed: negative for a credit note
    currency: str | None
    approved_on: date | None  # the day of its updated-at, in Coupa's offset, as the mapper takes it


@dataclass(frozen=True)
class Booking:
    """What the connector holds about one Coupa invoice: its newest record, and what it sent."""

    coupa_id: int
    state: str  # of the newest record version
    reason: str | None = None  # parked reason or last error, in words
    vendor: str | None = None  # of the command sent (or built)
    invoice_number: str | None = None
    period: int | None = None  # booked in (ledger), else the command's
    total: Decimal | None = None
    lines: tuple[Line, ...] = ()
    batch: str | None = None  # the connector's batch in Deltek, once claimed


@dataclass(frozen=True)
class DeltekVoucher:
    """One AP voucher in Deltek: entered in a batch (data entry) or posted (ledger rows)."""

    batch: str
    voucher: str | None
    vendor: str
    invoice: str
    period: int | None
    posted: bool
    currency: str | None = None
    lines: tuple[Line, ...] = ()

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def ref(self) -> str:
        return f"{self.voucher} in {self.batch}" if self.voucher else self.batch


@dataclass(frozen=True)
class Finding:
    """One invoice (or one voucher no Coupa invoice has) and its class, with the why."""

    kind: Kind
    invoice_number: str
    vendor: str
    coupa_id: int | None = None
    coupa_amount: Decimal | None = None
    deltek_amount: Decimal | None = None
    currency: str | None = None
    vouchers: tuple[str, ...] = ()
    connector_state: str | None = None
    detail: str = ""

    @property
    def amount(self) -> Decimal:
        """The money the finding is about: Coupa's amount, else Deltek's."""
        if self.coupa_amount is not None:
            return self.coupa_amount
        return self.deltek_amount if self.deltek_amount is not None else Decimal(0)


@dataclass(frozen=True)
class ClassTotal:
    """Count and money of one class in one currency; money is never added across currencies."""

    kind: str
    currency: str
    invoices: int
    amount: Decimal


def class_totals(findings: list[Finding]) -> list[ClassTotal]:
    """Count and money per class and currency; a class with none gets one row of zeros (""),
    so a report and a metric always show every class."""
    count: dict[tuple[str, str], int] = defaultdict(int)
    money: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for finding in findings:
        key = (finding.kind.value, finding.currency or "")
        count[key] += 1
        money[key] += finding.amount
    for kind in Kind:
        if not any(k == kind.value for k, _ in count):
            count[(kind.value, "")] = 0
    return [ClassTotal(k, c, n, money[(k, c)]) for (k, c), n in sorted(count.items())]


# Vouchers keyed by hand in Deltek are normal at most firms: reported, but no reason to say a
# period does not balance.
BALANCED_KINDS = frozenset({Kind.MATCHED, Kind.NOT_FROM_COUPA})


def balances(findings: list[Finding]) -> bool:
    """A period balances when every finding is a match or a voucher not from Coupa."""
    return all(finding.kind in BALANCED_KINDS for finding in findings)
