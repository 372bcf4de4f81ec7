"""The Coupa seam: an OAuth client-credentials REST client for invoices, POs and suppliers."""

from __future__ import annotations

from shared.coupa.client import CoupaClient
from shared.coupa.config import CoupaClientConfig
from shared.coupa.errors import CoupaAuthError, CoupaNotFoundError, CoupaPermissionError
from shared.coupa.models import CoupaInvoice, CoupaPurchaseOrder, CoupaSupplier

__all__ = [
    "CoupaAuthError",
    "CoupaClient",
    "CoupaClientConfig",
    "CoupaInvoice",
    "CoupaNotFoundError",
    "CoupaPermissionError",
    "CoupaPurchaseOrder",
    "CoupaSupplier",
]
