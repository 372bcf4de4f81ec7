"""Options of the Coupa simulator, with the default chosen for every fact coupa-api.md leaves open.

Defaults for [I] (inferred) facts of coupa-api.md, each switchable:
- ``limit`` above 50 is capped at 50 (``limit_over_max="cap"``; "error" answers 400) (§3.2).
- Any Accept but ``application/json`` gets XML (``non_json_accept="xml"``; "406" refuses) (§2).
- A missing id answers 404 with the ``{"errors": {...}}`` envelope (§6).
- Token errors follow RFC 6749 §5.2: 401 ``invalid_client``, 400 ``invalid_scope`` (§1).
- A missing scope answers 403, a bad or expired bearer 401 (§6).
- 429 from the rate limiter carries no ``Retry-After`` (``send_retry_after=False``): Coupa documents
  none, so clients must cope without it (§6).
- Unknown filter attributes answer 400 (``unknown_filter="error"``) so client typos surface;
  "ignore" drops them instead (§3.2).
- Marking an invoice exported also moves its ``updated-at`` (``export_touches_updated_at``) (§3.3).
- Only ``PUT /api/invoices/:id?exported=true`` marks an invoice exported, the form §3.3 documents
  for JSON; the body form is documented in XML only, so a JSON body's ``exported`` is ignored
  like any other change to it (``export_flag_in_body=True`` honours it).
- ``order_by`` is ignored (``honour_order_by=False``): Coupa does not document that it honours
  ``order_by=updated_at`` (§3.2 "Query parameters"), so by default every index answers in its
  documented default order, ascending ``id`` (``dir=desc`` reverses it). ``True`` sorts by the
  attribute named, ties broken by ascending ``id``.
- Call Outs are retried 3 times with backoff (``callout_attempts``) (§7).
- ``clock_skew_seconds`` shifts the ``Date`` header of every answer, to show a client what a
  server whose clock is off looks like (0: the true time).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from simulators.common.faults import FaultPlan

ALL_SCOPES = frozenset(
    {
        "core.common.read",
        "core.accounting.read",
        "core.invoice.read",
        "core.invoice.write",
        "core.invoice.create",
        "core.purchase_order.read",
        "core.purchase_order.write",
        "core.supplier.read",
        "core.supplier.write",
    }
)


class SeedSize(BaseModel):
    """How much data to generate; tests shrink it, demos keep the realistic default."""

    model_config = ConfigDict(extra="forbid")

    suppliers: int = Field(default=300, ge=1)
    projects: int = Field(default=40, ge=1)
    purchase_orders: int = Field(default=150, ge=0)
    invoices: int = Field(default=400, ge=0)


class CalloutOptions(BaseModel):
    """Where and how the simulator pushes Call Outs; ``url`` None means it pushes nothing.

    Invoices go to ``{url}/invoices`` and suppliers to ``{url}/suppliers``.
    """

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    auth: Literal["hmac", "oauth", "none"] = "hmac"
    secret: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None
    attempts: int = Field(default=3, ge=1)
    timeout_seconds: float = 10.0


class CoupaSimOptions(BaseModel):
    """Everything the simulator can be told at start. No options: lax credentials, seeded data."""

    model_config = ConfigDict(extra="forbid")

    client_id: str | None = None
    client_secret: str | None = None
    client_scopes: frozenset[str] = ALL_SCOPES
    token_expires_in: int = Field(default=86399, ge=1)
    seed: int = 42
    size: SeedSize = SeedSize()
    # Records made after seeding get ids above this: a restarted ``connector dev`` passes the
    # highest Coupa id its database already holds, so a new invoice never reuses an old one's.
    ids_above: int = Field(default=0, ge=0)
    rate_limit: bool = True
    rate: float = Field(default=25.0, gt=0)
    burst: int = Field(default=20, ge=1)
    send_retry_after: bool = False
    max_limit: int = Field(default=50, ge=1)
    limit_over_max: Literal["cap", "error"] = "cap"
    non_json_accept: Literal["xml", "406"] = "xml"
    unknown_filter: Literal["error", "ignore"] = "error"
    honour_order_by: bool = False
    export_touches_updated_at: bool = True
    export_flag_in_body: bool = False
    utc_offset_minutes: int = -420
    clock_skew_seconds: float = 0.0
    faults: FaultPlan = FaultPlan()
    callout: CalloutOptions = CalloutOptions()

    @property
    def strict(self) -> bool:
        """Strict mode checks client id and secret; without them any pair is accepted."""
        return self.client_id is not None
