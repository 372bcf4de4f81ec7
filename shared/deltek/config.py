"""How to reach one Vantagepoint tenant: URLs, credentials and client tuning."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

from shared.http.answers import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_TOKEN_RESPONSE_BYTES
from shared.logs import register_secret


class DeltekConfig(BaseModel):
    """One tenant connection. ``base_url`` is the API base, e.g. ``https://acme.deltekfirst.com/acme/api``.

    The ``vision`` endpoints sit beside ``/api`` (deltek-api.md §0); ``vision_url`` defaults to the
    base with its trailing ``/api`` replaced by ``/vision``.
    """

    base_url: str
    username: str
    password: SecretStr
    database: str
    client_id: str
    client_secret: SecretStr
    integrated: bool = False
    vision_url: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    # scjalliance refreshes 60 s before expiry (§1.2); halved for very short-lived tokens.
    refresh_margin_seconds: float = Field(default=60.0, ge=0)
    page_size: int = Field(default=100, ge=1)
    # Calls in flight at most; below it the bound adapts to the tenant's answers.
    max_in_flight: int = Field(default=32, ge=1, le=256)
    # Larger answers are refused, never retried (shared.http.answers): a tenant whose pages are
    # genuinely bigger needs a higher bound, not more attempts.
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, ge=1024)
    max_token_response_bytes: int = Field(default=DEFAULT_MAX_TOKEN_RESPONSE_BYTES, ge=1024)

    def model_post_init(self, _context: object) -> None:
        register_secret(self.password.get_secret_value())
        register_secret(self.client_secret.get_secret_value())

    @property
    def api(self) -> str:
        return self.base_url.rstrip("/")

    @property
    def vision(self) -> str:
        if self.vision_url:
            return self.vision_url.rstrip("/")
        root, _, last = self.api.rpartition("/")
        return f"{root}/vision" if last.lower() == "api" else f"{self.api}/vision"
