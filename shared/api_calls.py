"""Every call to Coupa or Deltek measured alike: latency by endpoint template and outcome, whether
the API now refuses our credentials, and one log line per Deltek write.

The collectors live here, once per process, because the transports are built deep in shared code
that knows no service or registry (``shared/connections/runtime.py``); every service registers
them on its own registry (``ServiceMetrics``). A service that makes no such call exports them
without samples. Who a call is for comes from ``shared.call_context``.

Endpoints are templates (``GET /DataEntry/apControl/{batch}``), matched against the end of the
URL's path so that a tenant's base path does not matter; a path no template matches is
``other``, so a label never carries an id.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from prometheus_client import Gauge, Histogram
from yarl import URL

from shared.call_context import current

log = logging.getLogger(__name__)

OK = "ok"
CLIENT_ERROR = "client_error"
SERVER_ERROR = "server_error"
RATE_LIMITED = "rate_limited"
UNAUTHORIZED = "unauthorized"
NETWORK = "network"
OUTCOMES = (OK, CLIENT_ERROR, SERVER_ERROR, RATE_LIMITED, UNAUTHORIZED, NETWORK)
OTHER = "other"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Coupa and Deltek answer in tens of milliseconds to tens of seconds (timeouts are 30 and 60 s).
_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

API_CALL_SECONDS = Histogram(
    "connector_api_call_seconds",
    "Calls to Coupa or Deltek, by API, connection, endpoint template and outcome "
    "(ok, client_error, server_error, rate_limited, unauthorized, network)",
    ["api", "connection", "endpoint", "outcome"],
    buckets=_BUCKETS,
    registry=None,
)
API_AUTH_REFUSED = Gauge(
    "connector_api_auth_refused",
    "1 while the last answer of the API to a connection refused our credentials (401/403, or "
    "a token grant refused), 0 once a call succeeded again",
    ["api", "connection"],
    registry=None,
)
COLLECTORS = (API_CALL_SECONDS, API_AUTH_REFUSED)


def outcome_of(status: int | None, *, token_call: bool = False) -> str:
    """How a call ended, by its HTTP status; None means no answer (refused, reset, timeout).

    A token endpoint answers refused credentials with 400 (RFC 6749 §5.2) as well as 401.
    """
    if status is None:
        return NETWORK
    if status in (401, 403) or (token_call and status == 400):
        return UNAUTHORIZED
    if status == 429:
        return RATE_LIMITED
    if status >= 500:
        return SERVER_ERROR
    if status >= 400:
        return CLIENT_ERROR
    return OK


class Routes:
    """The path templates of one API; ``auth_path`` is the template of its token endpoint."""

    def __init__(self, templates: Sequence[str], *, auth_path: str) -> None:
        if auth_path not in templates:
            raise ValueError(f"token endpoint {auth_path!r} is not among the templates")
        self.auth_path = auth_path
        # In the order given: a literal template (``/firm/VendorAccountingInfo``) must come
        # before the placeholder one it would also match (``/firm/{client}``).
        self._patterns = [(template, _pattern(template)) for template in templates]

    def template(self, url: str) -> str:
        path = URL(url).path.rstrip("/")
        for template, pattern in self._patterns:
            if pattern.search(path):
                return template
        return OTHER


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]+\}", template.rstrip("/"))
    return re.compile("[^/]+".join(re.escape(part) for part in parts) + "$")


@dataclass
class Call:
    """Filled in by the caller once the API answered."""

    status: int | None = None


class ApiCalls:
    """Measures the calls of one API: ``async with calls.measure(method, url) as call: ...``."""

    def __init__(self, api: str, routes: Routes, *, log_writes: bool = False) -> None:
        self.api = api
        self.routes = routes
        self._log_writes = log_writes

    @asynccontextmanager
    async def measure(self, method: str, url: str) -> AsyncIterator[Call]:
        """Observe the call however it ends; a network error counts as ``network`` even after
        the status arrived (the answer broke off while it was read)."""
        started = time.perf_counter()
        call = Call()
        network_failure = False
        try:
            yield call
        except (aiohttp.ClientError, TimeoutError, OSError):
            network_failure = True
            raise
        finally:
            seconds = time.perf_counter() - started
            template = self.routes.template(url)
            status = None if network_failure else call.status
            outcome = outcome_of(status, token_call=template == self.routes.auth_path)
            self._observe(method, template, outcome, status, seconds)

    def _observe(
        self, method: str, template: str, outcome: str, status: int | None, seconds: float
    ) -> None:
        context = current()
        endpoint = f"{method} {template}"
        API_CALL_SECONDS.labels(self.api, context.connection, endpoint, outcome).observe(seconds)
        if outcome == UNAUTHORIZED:
            API_AUTH_REFUSED.labels(self.api, context.connection).set(1)
        elif outcome == OK:
            API_AUTH_REFUSED.labels(self.api, context.connection).set(0)
        if self._log_writes and method in WRITE_METHODS and template != self.routes.auth_path:
            log.info(
                "%s write %s: %s",
                self.api,
                endpoint,
                outcome,
                extra={
                    "connection": context.connection,
                    "job_id": context.job,
                    "record_key": context.record,
                    "call": endpoint,
                    "outcome": outcome,
                    "status": status,
                    "latency_ms": round(seconds * 1000, 1),
                },
            )
