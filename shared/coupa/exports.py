"""An invoice's export flag as Coupa answers it (coupa-api.md §3.3): the few fields a mark needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.http.errors import FatalError

# ``fields`` keeps both the read and the mark's answer to a few bytes (§3.2 "Payload trimming").
EXPORT_FIELDS = '["id","exported","updated-at"]'


@dataclass(frozen=True)
class ExportState:
    """Whether Coupa holds the invoice as exported, and its version (``updated-at`` as Coupa
    wrote it; None if Coupa left it out)."""

    invoice_id: int
    exported: bool
    version: str | None

    @classmethod
    def of(cls, invoice_id: int, answer: Any) -> ExportState:
        """From Coupa's JSON answer; anything but an object is refused as a broken answer."""
        if not isinstance(answer, dict):
            raise FatalError(f"invoice {invoice_id}: expected an object, got {answer!r:.100}")
        version = answer.get("updated-at")
        return cls(invoice_id, answer.get("exported") is True, str(version) if version else None)
