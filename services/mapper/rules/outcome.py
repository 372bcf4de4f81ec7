"""What mapping a record comes to: a command to publish, or the reasons it has to wait."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from shared.messages import PostApInvoice, UpsertVendor

# One thing a parked record waits for, e.g. {"kind": "supplier", "coupa_value": "217"}; an
# optional "label" says in words which Coupa object it is. The resume loop re-maps on any change.
WaitingFor = dict[str, str]


@dataclass(frozen=True)
class Problem:
    """One reason an invoice cannot go on, and what would let it go on by itself (if anything).

    ``where`` ("line 2") is kept apart from ``reason`` so the same problem on several lines is
    reported once, naming every line.
    """

    reason: str
    waiting_for: WaitingFor | None = None
    where: str | None = None


Command = TypeVar("Command", PostApInvoice, UpsertVendor)


@dataclass(frozen=True)
class Mapped(Generic[Command]):
    """A record that resolved: the command to publish (a voucher, or a vendor firm)."""

    command: Command


@dataclass(frozen=True)
class Parked:
    """All the problems of one invoice at once, so a clerk fixes them in one go."""

    reasons: tuple[str, ...]
    waiting_for: tuple[WaitingFor, ...] = field(default_factory=tuple)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    @classmethod
    def of(cls, problems: list[Problem]) -> Parked:
        """Group problems by reason (naming every place it occurs) and de-duplicate waits."""
        places: dict[str, list[str]] = {}
        for problem in problems:
            where = places.setdefault(problem.reason, [])
            if problem.where and problem.where not in where:
                where.append(problem.where)
        reasons = tuple(
            f"{reason} ({_places(where)})" if where else reason for reason, where in places.items()
        )
        waits: list[WaitingFor] = []
        seen: set[tuple[str, str]] = set()
        for problem in problems:
            wait = problem.waiting_for
            if wait is None or (wait["kind"], wait["coupa_value"]) in seen:
                continue
            seen.add((wait["kind"], wait["coupa_value"]))
            waits.append(wait)
        return cls(reasons, tuple(waits))


def _places(where: list[str]) -> str:
    """``line 1, line 3`` → ``lines 1, 3``: shorter for a clerk to read."""
    if len(where) > 1 and all(w.startswith("line ") for w in where):
        return "lines " + ", ".join(w.removeprefix("line ") for w in where)
    return ", ".join(where)


MapResult = Mapped[PostApInvoice] | Mapped[UpsertVendor] | Parked
