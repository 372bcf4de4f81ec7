"""The mapper's own metrics: how invoices come out, by connection and outcome, never by id."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

OUTCOMES = ("mapped", "parked", "superseded", "flagged", "republished")


class MapperMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.outcomes = Counter(
            "connector_mapper_outcomes_total",
            "Invoice versions the mapper settled, by connection and outcome "
            "(mapped, parked, superseded, flagged, republished)",
            ["connection", "outcome"],
            registry=registry,
        )

    def count(self, connection: str, outcome: str) -> None:
        self.outcomes.labels(connection, outcome).inc()
