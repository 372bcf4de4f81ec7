"""Settings read once from the environment (prefix ``CONNECTOR_``) and passed down explicitly.

Flat names (``CONNECTOR_DATABASE_URL``, ``CONNECTOR_KAFKA_BOOTSTRAP``, ``CONNECTOR_HTTP_PORT``,
``CONNECTOR_MASTER_KEY``) are the documented interface; finer knobs are nested and use ``__``
(``CONNECTOR_KAFKA__PARTITIONS=24``).
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, SecretStr, model_validator
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
    # Also the group's rebalance timeout (the consumer sends it as such): how long a rebalance
    # waits for a member that does not rejoin. It must exceed ``consumer.drain_seconds``, which
    # a member may spend finishing work before it rejoins.
    max_poll_interval_ms: int = 20_000
    # Send LeaveGroup on stop, so the member's partitions move at once (Apache Kafka). Off for
    # Tansu 0.6, the embedded broker: a leader that leaves mid-rebalance stays the group's leader
    # and no member gets partitions again; unannounced, it is dropped after the session timeout.
    leave_group_on_stop: bool = True
    max_batch: int = Field(default=100, ge=1)
    # The most one message may take (the producer's max_request_size), as Apache Kafka's
    # max.message.bytes allows by default; raise both to let an invoice ingest parked as too
    # large through with `connector replay --record`.
    max_message_bytes: int = Field(default=1 << 20, ge=1024)


class ConsumerTuning(BaseModel):
    """How many messages a consumer handles at once, and how it treats one that keeps failing."""

    # Across all assigned partitions; one record's events still run one after another.
    max_in_flight: int = Field(default=64, ge=1)
    # On a rebalance or stop, how long in-flight work may take to finish before it is given up.
    drain_seconds: float = Field(default=10.0, ge=0)
    # A group rebalance still unfinished after this long is stuck: the consumer joins again as
    # a new member (logged and counted). Far above a healthy one (rebalance timeout + drain).
    stuck_rebalance_seconds: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_initial_seconds: float = 0.2
    backoff_max_seconds: float = 30.0


class IngestTuning(BaseModel):
    """How far the poll looks back, and how long a kept purchase order may go unconfirmed."""

    # How late (Coupa's clock skew, late commits) a change may be and still be found: the poll
    # lists what lies this far behind its cursor once, when it can no longer change.
    poll_overlap_seconds: float = Field(default=300.0, ge=0)
    # Every poll lists this much behind its cursor again, so a change a little late is found by
    # the next poll rather than after the overlap.
    poll_head_margin_seconds: float = Field(default=10.0, ge=0)
    first_poll_lookback_days: float = Field(default=30.0, ge=0)
    # A kept purchase order that Coupa has not sent again for this long is fetched again, even
    # though the poll, which stores every PO change, listed none.
    purchase_order_max_age_seconds: float = Field(default=86_400.0, gt=0)


class MapperTuning(BaseModel):
    """How often the mapper re-tries parked invoices besides when a map or the cache changes,
    and how long it trusts its in-memory reference data without hearing of a change."""

    resume_interval_seconds: float = Field(default=30.0, gt=0)
    resume_batch: int = Field(default=500, ge=1)
    # The backstop for a map or cache row changed by hand without NOTIFY; 0 reloads every time.
    reference_ttl_seconds: float = Field(default=5.0, ge=0)
    # How often the record and dead-letter gauges are counted (shared/service/state_gauges.py).
    state_gauges_seconds: float = Field(default=15.0, gt=0)


class PosterTuning(BaseModel):
    """How long a claim lasts, how a lost answer is chased, how often reference data refreshes."""

    # Longer than the slowest single Deltek call including the client's own retries (a 429
    # with Retry-After may wait two minutes), so a live poster never loses its lease mid-call.
    lease_seconds: float = Field(default=600.0, gt=0)
    # Look-ups after a write whose answer was lost, before the job is retried as a whole.
    lost_answer_lookups: int = Field(default=3, ge=1)
    lost_answer_backoff_seconds: float = Field(default=1.0, ge=0)
    reference_refresh_seconds: float = Field(default=900.0, gt=0)


class Settings(BaseSettings):
    """Everything a service needs at start; unset database or broker means the embedded ones."""

    model_config = SettingsConfigDict(
        env_prefix="CONNECTOR_", env_nested_delimiter="__", extra="ignore"
    )

    database_url: SecretStr | None = None
    kafka_bootstrap: str | None = None
    master_key: SecretStr | None = None
    # Keys still accepted for reading while ``connector keys rotate`` moves secrets to the new one.
    master_key_previous: SecretStr | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # Where /metrics is served: never the HTTP port, which takes Coupa's Call Outs at ingest.
    # Unset, the HTTP port + 1000 (9081/9082/9083 beside 8081/8082/8083), so each
    # service's default differs the way its HTTP port does; 0 lets the system pick one.
    admin_host: str = "127.0.0.1"
    admin_port: int | None = Field(default=None, ge=0, le=65535)
    # /readyz answers from a verdict this fresh, so probing it cannot load Postgres and Kafka.
    readiness_cache_seconds: float = Field(default=1.0, ge=0)
    log_level: str = "INFO"
    state_dir: str = ".connector"
    db_pool_min: int = 1
    db_pool_max: int = 10
    shutdown_timeout_seconds: float = 30.0
    # Request bodies above this get 413; a Coupa invoice with all its lines is far smaller.
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    kafka: KafkaTuning = KafkaTuning()
    consumer: ConsumerTuning = ConsumerTuning()
    mapper: MapperTuning = MapperTuning()
    ingest: IngestTuning = IngestTuning()
    poster: PosterTuning = PosterTuning()

    @model_validator(mode="after")
    def _stuck_rebalance_outlasts_a_healthy_one(self) -> Self:
        """A healthy rebalance may take the rebalance timeout plus a member's drain: a stuck
        limit within that would make consumers rejoin, and rebalance again, while nothing is stuck.
        """
        healthy = self.consumer.drain_seconds + self.kafka.max_poll_interval_ms / 1000
        if self.consumer.stuck_rebalance_seconds <= healthy:
            raise ValueError(
                f"consumer.stuck_rebalance_seconds ({self.consumer.stuck_rebalance_seconds:g}) "
                f"must exceed consumer.drain_seconds ({self.consumer.drain_seconds:g}) plus the "
                f"rebalance timeout kafka.max_poll_interval_ms / 1000 "
                f"({self.kafka.max_poll_interval_ms / 1000:g}), {healthy:g} s: a healthy "
                "rebalance may take that long"
            )
        return self

    def admin_listen_port(self) -> int:
        """The admin port in force: ``admin_port`` if set, else beside the HTTP port."""
        if self.admin_port is not None:
            return self.admin_port
        return self.http_port + 1000 if self.http_port else 0
