"""The poster's own metrics: outcomes by connection, and approval in Coupa → posted in Deltek."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# From seconds (a push straight through) to a day (a record parked overnight, then fixed).
APPROVED_TO_POSTED_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)


class PosterMetrics:
    """Registered on the service's registry; labels are connection and outcome, never ids."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.jobs = Counter(
            "connector_poster_jobs_total",
            "Invoice commands handled, by outcome (created, already_entered, already_posted, "
            "parked, flagged, superseded)",
            ["connection", "outcome"],
            registry=registry,
        )
        self.approved_to_posted = Histogram(
            "connector_approved_to_posted_seconds",
            "Time from approval in Coupa to the voucher being in Deltek",
            ["connection"],
            buckets=APPROVED_TO_POSTED_BUCKETS,
            registry=registry,
        )
        self.deltek_call_limit = Gauge(
            "connector_deltek_calls_in_flight_limit",
            "Calls the poster may have in flight to the tenant now (adapts to its answers, "
            "up to the connection's deltek.max_in_flight)",
            ["connection"],
            registry=registry,
        )
        self.reference_rows = Gauge(
            "connector_reference_rows",
            "Rows in the Deltek reference cache after the last refresh, by kind",
            ["connection", "kind"],
            registry=registry,
        )
        self.reference_failures = Counter(
            "connector_reference_refresh_failures_total",
            "Reference refreshes that failed and will be tried again",
            ["connection"],
            registry=registry,
        )
