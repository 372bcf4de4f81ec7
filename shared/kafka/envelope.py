"""The envelope every pipeline message travels in (architecture §2), encoded with orjson."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

Source = Literal["webhook", "poll", "replay"]


def utc_now() -> datetime:
    """The time now, with its offset: the default clock of envelopes and of injected ``clock``s."""
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Small and frozen: what happened, to which record, where it came from, and the payload."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    schema_name: str = Field(alias="schema", min_length=1)
    version: int = Field(default=1, ge=1)
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    connection: str = Field(min_length=1)
    key: str = Field(min_length=1)
    occurred_at: datetime = Field(default_factory=utc_now)
    source: Source
    trace_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    payload: dict[str, Any]

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))

    @classmethod
    def decode(cls, raw: bytes | None) -> Envelope:
        """Parse bytes from Kafka; raises ``ValueError`` (pydantic or orjson) on bad input."""
        if raw is None:
            raise ValueError("message has no value")
        return cls.model_validate_json(raw)


def record_key(connection: str, kind: str, coupa_id: str | int) -> str:
    """``{connection}:{kind}:{coupa id}``: one record's events stay on one partition, in order."""
    return f"{connection}:{kind}:{coupa_id}"


class Coordinates(BaseModel):
    """Where a message sits in Kafka: a replay point, and what the audit trail cites."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int
