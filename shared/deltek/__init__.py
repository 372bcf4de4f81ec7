"""Client for Deltek Vantagepoint's REST API (auth, paging, filterHash, firms, AP entry, ledger)."""

from __future__ import annotations

from shared.deltek.client import DeltekClient
from shared.deltek.config import DeltekConfig
from shared.deltek.errors import (
    FieldMissingError,
    LedgerBatchUnsureError,
    NeedsAttentionError,
    OutcomeUnknownError,
    PostingError,
)
from shared.deltek.models import (
    Account,
    ApBatch,
    ApDetail,
    ApMaster,
    Firm,
    FirmAddress,
    LedgerRow,
    Period,
    PostResult,
    Project,
    VendorAccounting,
)
from shared.deltek.query import FilterHash, Pages

__all__ = [
    "Account",
    "ApBatch",
    "ApDetail",
    "ApMaster",
    "DeltekClient",
    "DeltekConfig",
    "FieldMissingError",
    "FilterHash",
    "Firm",
    "FirmAddress",
    "LedgerBatchUnsureError",
    "LedgerRow",
    "NeedsAttentionError",
    "OutcomeUnknownError",
    "Pages",
    "Period",
    "PostResult",
    "PostingError",
    "Project",
    "VendorAccounting",
]
