"""Settings of one Coupa connection as the client needs them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from shared.http.answers import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_TOKEN_RESPONSE_BYTES

DEFAULT_SCOPES = (
    "core.common.read",
    "core.invoice.read",
    "core.invoice.write",
    "core.purchase_order.read",
    "core.supplier.read",
)
# Coupa documents no version header (coupa-api.md §2) and ignores unknown headers; we still pin
# the release our field knowledge comes from so a future versioned API sees what we expect.
DEFAULT_API_VERSION = "R39"


class CoupaClientConfig(BaseModel):
    """One Coupa instance: where, who, and how politely to call it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    client_id: str
    client_secret: SecretStr
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    api_version: str | None = DEFAULT_API_VERSION
    rate: float = Field(default=25.0, gt=0)
    burst: int = Field(default=20, ge=1)
    page_size: int = Field(default=50, ge=1, le=50)
    attempts: int = Field(default=5, ge=1)
    backoff_initial_seconds: float = Field(default=0.5, ge=0)
    backoff_max_seconds: float = Field(default=30.0, ge=0)
    timeout_seconds: float = Field(default=60.0, gt=0)
    token_refresh_margin_seconds: float = Field(default=300.0, ge=0)
    # Coupa asks for at least 5 s between minting a token and using it (coupa-api.md §1).
    token_first_use_delay_seconds: float = Field(default=5.0, ge=0)
    # Larger answers are refused, never retried (shared.http.answers): a tenant whose pages are
    # genuinely bigger needs a higher bound, not more attempts.
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, ge=1024)
    max_token_response_bytes: int = Field(default=DEFAULT_MAX_TOKEN_RESPONSE_BYTES, ge=1024)
