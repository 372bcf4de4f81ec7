"""Prometheus metrics on a registry per service, labelled by route, topic and outcome, not by id."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from shared.api_calls import COLLECTORS as API_CALL_COLLECTORS


class ServiceMetrics:
    """The metrics every service exposes; services add their own on ``registry``.

    The Coupa and Deltek call metrics are the process's own (``shared.api_calls``), registered
    here so that whichever service makes such calls exports them.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        Info("connector_service", "Which service this process runs", registry=self.registry).info(
            {"service": service}
        )
        self.http_requests = Counter(
            "connector_http_requests_total",
            "HTTP requests answered, by route template and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "connector_http_request_seconds",
            "Time to answer an HTTP request",
            ["route", "method"],
            registry=self.registry,
        )
        self.messages = Counter(
            "connector_messages_total",
            "Kafka messages handled, by outcome (ok, retry, dead_lettered)",
            ["topic", "outcome"],
            registry=self.registry,
        )
        self.handle_seconds = Histogram(
            "connector_message_handle_seconds",
            "Time a handler took for one message",
            ["topic"],
            registry=self.registry,
        )
        self.consumer_in_flight = Gauge(
            "connector_consumer_in_flight",
            "Messages being handled at once (bounded by consumer.max_in_flight)",
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "connector_consumer_lag",
            "Messages of each assigned partition not yet done: its end minus the lowest offset "
            "still in a handler (or the fetch position when none is)",
            ["group", "topic", "partition"],
            registry=self.registry,
        )
        self.consumer_stuck_rebalances = Counter(
            "connector_consumer_stuck_rebalances_total",
            "Group rebalances still unfinished after consumer.stuck_rebalance_seconds, after "
            "which the consumer joined again as a new member",
            ["group"],
            registry=self.registry,
        )
        for collector in API_CALL_COLLECTORS:
            self.registry.register(collector)
