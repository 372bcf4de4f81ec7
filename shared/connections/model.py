"""A connection: its non-secret settings, its secrets, and the client configs built from both.

The settings are stored as JSON beside the encrypted secrets (``store.py``); the services get a
``Connection`` from the store and build their clients with ``coupa_config`` / ``deltek_config``
so that every client of a connection is configured the same way.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from shared.connection_settings import (
    ConnectionSettings,
    CoupaWriteBackSettings,
    DeltekPostingSettings,
    MappingSettings,
    Mode,
    ReconcileSettings,
)
from shared.coupa.config import DEFAULT_API_VERSION, DEFAULT_SCOPES, CoupaClientConfig
from shared.deltek.config import DeltekConfig
from shared.logs import register_secret
from shared.secrets import weakness

# Names prefix record keys ({connection}:{kind}:{id}) and URL paths, so no ':' or '/'.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def _base_url(value: str) -> str:
    if not value.startswith(("https://", "http://")) or not urlsplit(value).hostname:
        raise ValueError("must be an https:// URL with a host (or http:// for a simulator)")
    return value.rstrip("/")


def _is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (localhost, 127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


BaseUrl = Annotated[str, AfterValidator(_base_url)]
Text = Annotated[str, Field(min_length=1)]


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a connection must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CoupaSettings(CoupaWriteBackSettings):
    """Where the instance is and how the connector signs in, plus what it writes back
    (``CoupaWriteBackSettings``)."""

    base_url: BaseUrl
    client_id: Text
    scopes: tuple[str, ...] = Field(default=DEFAULT_SCOPES, min_length=1)
    # Explicit null sends no version header (Coupa documents none, coupa-api.md §2).
    api_version: str | None = DEFAULT_API_VERSION
    poll_interval_seconds: float = Field(default=300.0, gt=0)
    # Coupa asks for >= 5 s between minting and first use; a simulator may use 0.
    token_first_use_delay_seconds: float = Field(default=5.0, ge=0)


class DeltekSettings(DeltekPostingSettings):
    """Where the tenant is and who logs in, plus where vouchers go (``DeltekPostingSettings``)."""

    base_url: BaseUrl
    database: Text
    username: Text
    client_id: Text
    # The most API calls the connector has in flight to this tenant; it adapts below this to
    # the tenant's answers (shared.http.adaptive), so raise it only if the tenant can take it.
    max_in_flight: int = Field(default=32, ge=1, le=256)


class HttpsOnly(Strict):
    """Both base URLs use https unless the host is loopback or ``allow_insecure_http`` is set.

    Tokens, passwords and client secrets travel to these URLs: over plain http anyone on the
    path reads them. Loopback never leaves the machine (the simulators, a local tunnel); a
    simulator on another host needs the explicit flag.
    """

    allow_insecure_http: bool = False
    coupa: CoupaSettings
    deltek: DeltekSettings

    @model_validator(mode="after")
    def _https_unless_loopback(self) -> Self:
        if self.allow_insecure_http:
            return self
        for field, url in (("coupa", self.coupa.base_url), ("deltek", self.deltek.base_url)):
            if url.startswith("http://") and not _is_loopback(url):
                raise ValueError(
                    f"{field}.base_url: http:// only for a loopback host (localhost, 127.0.0.1, "
                    "::1); use https://, or set allow_insecure_http: true for a simulator"
                )
        return self


class StoredSettings(HttpsOnly):
    """Everything about a connection except its secrets: what ``connections.settings`` holds."""

    mode: Mode = "live"
    mapping: MappingSettings = MappingSettings()
    reconcile: ReconcileSettings = ReconcileSettings()

    def pipeline(self, name: str) -> ConnectionSettings:
        """The non-secret settings the mapper and the poster act on (no tenant URL or user)."""
        return ConnectionSettings.from_stored(name, self.model_dump(mode="json"))


class Secrets(Strict):
    """The decrypted secrets; attribute ``coupa_client_secret`` is stored as field
    ``coupa.client_secret`` and so on."""

    coupa_client_secret: SecretStr
    # Several at once while the Call Out signing secret rotates (architecture §5).
    coupa_callout_secrets: tuple[SecretStr, ...] = ()
    deltek_password: SecretStr
    deltek_client_secret: SecretStr

    def model_post_init(self, _context: object) -> None:
        for value in self.to_fields().values():
            register_secret(value)
        for secret in self.coupa_callout_secrets:
            register_secret(secret.get_secret_value())

    def weaknesses(self) -> list[str]:
        """Why secrets cannot be stored, each as "<field> <reason>", never quoting a value.

        The Call Out secrets are what the connector verifies Coupa's pushes and token requests
        against (``shared.secrets.strength``); the others are issued by Coupa or Deltek.
        """
        found: list[str] = []
        for attr, value in self:
            field = _field_name(attr)
            if isinstance(value, SecretStr):
                found += _weakness(field, value, verified=False)
            else:
                for n, secret in enumerate(value):
                    found += _weakness(f"{field}[{n}]", secret, verified=True)
        return found

    def to_fields(self) -> dict[str, str]:
        """Field name to stored plaintext; a list is stored as one JSON array, an empty one not."""
        fields: dict[str, str] = {}
        for attr, value in self:
            field = _field_name(attr)
            if isinstance(value, SecretStr):
                fields[field] = value.get_secret_value()
            elif value:
                fields[field] = orjson.dumps([v.get_secret_value() for v in value]).decode()
        return fields

    @classmethod
    def from_fields(cls, connection: str, fields: Mapping[str, str]) -> Secrets:
        values: dict[str, Any] = {}
        for attr, info in cls.model_fields.items():
            field = _field_name(attr)
            if field not in fields:
                if info.is_required():
                    raise MissingSecretError(
                        f"connection {connection!r} has no stored {field}; apply its file again"
                    )
                continue
            text = fields[field]
            values[attr] = tuple(orjson.loads(text)) if isinstance(info.default, tuple) else text
        return cls.model_validate(values)


def _field_name(attr: str) -> str:
    """``coupa_client_secret`` -> ``coupa.client_secret``: the name stored and shown."""
    return attr.replace("_", ".", 1)


def _weakness(field: str, secret: SecretStr, *, verified: bool) -> list[str]:
    reason = weakness(secret.get_secret_value(), verified=verified)
    return [f"{field} {reason}"] if reason else []


class MissingSecretError(LookupError):
    """A stored connection lacks a secret it needs (e.g. rows deleted by hand)."""


@dataclass(frozen=True)
class Connection:
    """One Coupa instance paired with one Deltek tenant, ready to build clients from."""

    name: str
    settings: StoredSettings
    secrets: Secrets

    def pipeline_settings(self) -> ConnectionSettings:
        """The non-secret settings the mapper and the poster act on."""
        return self.settings.pipeline(self.name)

    def coupa_config(self, **overrides: Any) -> CoupaClientConfig:
        """The Coupa client's config; ``overrides`` tune it (retries, timeouts) for one use."""
        coupa = self.settings.coupa
        values: dict[str, Any] = {
            "base_url": coupa.base_url,
            "client_id": coupa.client_id,
            "client_secret": self.secrets.coupa_client_secret,
            "scopes": coupa.scopes,
            "api_version": coupa.api_version,
            "token_first_use_delay_seconds": coupa.token_first_use_delay_seconds,
        }
        return CoupaClientConfig(**(values | overrides))

    def deltek_config(self, **overrides: Any) -> DeltekConfig:
        deltek = self.settings.deltek
        values: dict[str, Any] = {
            "base_url": deltek.base_url,
            "database": deltek.database,
            "username": deltek.username,
            "password": self.secrets.deltek_password,
            "client_id": deltek.client_id,
            "client_secret": self.secrets.deltek_client_secret,
            "max_in_flight": deltek.max_in_flight,
        }
        return DeltekConfig(**(values | overrides))
