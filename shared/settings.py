"""Settings read once from the environment (prefix ``CONNECTOR_``) and passed down explicitly.

Flat names (``CONNECTOR_DATABASE_URL``, ``CONNECTOR_KAFKA_BOOTSTRAP``, ``CONNECTOR_HTTP_PORT``,
``CONNECTOR_MASTER_KEY``) are the documented interface; finer knobs are nested and use ``__``
(``CONNECTOR_KAFKA__PARTITIONS=24``).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaTuning(BaseModel):
    """How topics are laid out and how clients behave; defaults suit both Tansu and Apache Kafka."""

    topic_prefix: str = ""
    partitions: int = Field(default=12, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    # Tansu has no idempotent producer; Apache Kafka users may switch it on.
    idempotent_producer: bool = False
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 1_000
    max_poll_interval_ms: int = 300_000
    max_batch: int = Field(default=100, ge=1)


class ConsumerTuning(BaseModel):
    """How the consumer loop treats a message whose handler keeps failing."""

    max_attempts: int = Field(default=5, ge=1)
    backoff_initial_seconds: float = 0.2
    backoff_max_seconds: float = 30.0


class IngestTuning(BaseModel):
    """How far the poll looks back: re-read overlap, and the first poll of a new connection."""

    poll_overlap_seconds: float = Field(default=300.0, ge=0)
    first_poll_lookback_days: float = Field(default=30.0, ge=0)


class Settings(BaseSettings):
    """Everything a service needs at start; unset database or broker means the embedded ones."""

    model_config = SettingsConfigDict(
        env_prefix="CONNECTOR_", env_nested_delimiter="__", extra="ignore"
    )

    database_url: SecretStr | None = None
    kafka_bootstrap: str | None = None
    master_key: SecretStr | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    log_level: str = "INFO"
    state_dir: str = ".connector"
    db_pool_min: int = 1
    db_pool_max: int = 10
    shutdown_timeout_seconds: float = 30.0
    # Request bodies above this get 413; a Coupa invoice with all its lines is far smaller.
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    kafka: KafkaTuning = KafkaTuning()
    consumer: ConsumerTuning = ConsumerTuning()
    ingest: IngestTuning = IngestTuning()
