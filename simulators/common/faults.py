"""A scriptable fault plan (401, 429 bursts, 5xx, latency, lost write answers) as middleware.

The plan is set at start (JSON) or at run time through ``POST /_admin/faults``; counters restart
whenever a plan is set so a test can reason about "the next N calls". Simulator-specific error
bodies come from a ``render_error`` callback, so this module knows nothing about Coupa or Deltek.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from pydantic import BaseModel, ConfigDict, Field, ValidationError

RenderError = Callable[[web.Request, int, str], web.StreamResponse]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CallWindow(BaseModel):
    """Which calls a fault hits: after ``after`` calls pass, the next ``count`` fail.

    With ``every`` set the pattern repeats with that period (``after`` is then the offset within
    each period), which gives periodic bursts instead of a single one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    after: int = Field(default=0, ge=0)
    count: int = Field(default=1, ge=1)
    every: int | None = Field(default=None, ge=1)

    def hits(self, call_number: int) -> bool:
        """Whether the 0-based ``call_number``-th counted call is faulted."""
        position = call_number % self.every if self.every else call_number
        return self.after <= position < self.after + self.count


class FaultPlan(BaseModel):
    """Everything that can go wrong, off by default. Loaded from JSON at start or via admin API."""

    model_config = ConfigDict(extra="forbid")

    unauthorized: CallWindow | None = None
    throttle: CallWindow | None = None
    throttle_retry_after: float | None = Field(default=None, ge=0)
    server_errors: CallWindow | None = None
    server_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    server_error_status: int = Field(default=503, ge=500, le=599)
    latency_ms: float = Field(default=0.0, ge=0.0)
    lost_answer: CallWindow | None = None
    lost_answer_mode: Literal["disconnect", "gateway_timeout"] = "disconnect"
    token_ttl_seconds: int | None = Field(default=None, ge=0)
    seed: int = 0


class FaultInjector:
    """Holds the active plan and its counters; one per simulator app."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.plan = FaultPlan()
        self.calls = 0
        self.writes = 0
        self.injected: dict[str, int] = {}
        self._rng = random.Random(0)
        self.set_plan(plan or FaultPlan())

    def set_plan(self, plan: FaultPlan) -> None:
        """Install a plan and restart the counters it refers to."""
        self.plan = plan
        self.calls = 0
        self.writes = 0
        self.injected = {}
        self._rng = random.Random(plan.seed)

    def _record(self, kind: str) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1

    def before(self) -> tuple[int, str] | None:
        """Count a call and return (status, message) if it must fail before reaching the handler."""
        plan, call = self.plan, self.calls
        self.calls += 1
        if plan.unauthorized and plan.unauthorized.hits(call):
            self._record("unauthorized")
            return 401, "Unauthorized (injected fault)"
        if plan.throttle and plan.throttle.hits(call):
            self._record("throttle")
            return 429, "Too Many Requests (injected fault)"
        scripted = plan.server_errors is not None and plan.server_errors.hits(call)
        if scripted or (plan.server_error_rate and self._rng.random() < plan.server_error_rate):
            self._record("server_error")
            return plan.server_error_status, "Service unavailable (injected fault)"
        return None

    def lose_answer(self, method: str) -> bool:
        """Count a committed write and decide whether its answer is dropped."""
        if method not in WRITE_METHODS:
            return False
        write = self.writes
        self.writes += 1
        if self.plan.lost_answer and self.plan.lost_answer.hits(write):
            self._record("lost_answer")
            return True
        return False

    def snapshot(self) -> dict[str, object]:
        """The plan and counters, for ``GET /_admin/faults``."""
        return {
            "plan": self.plan.model_dump(mode="json"),
            "calls": self.calls,
            "writes": self.writes,
            "injected": dict(self.injected),
        }


FAULTS_KEY = web.AppKey("faults", FaultInjector)


def fault_middleware(
    injector: FaultInjector, render_error: RenderError, exempt_prefixes: Iterable[str] = ()
) -> Middleware:
    """Middleware applying ``injector``'s plan to every request outside ``exempt_prefixes``."""
    exempt = tuple(exempt_prefixes)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(exempt):
            return await handler(request)
        plan = injector.plan
        if plan.latency_ms:
            await asyncio.sleep(plan.latency_ms / 1000)
        failure = injector.before()
        if failure is not None:
            status, message = failure
            response = render_error(request, status, message)
            if status == 429 and plan.throttle_retry_after is not None:
                response.headers["Retry-After"] = f"{plan.throttle_retry_after:g}"
            return response
        response = await handler(request)
        if response.status < 400 and injector.lose_answer(request.method):
            if plan.lost_answer_mode == "gateway_timeout":
                return render_error(request, 504, "Gateway Timeout (injected fault)")
            # The write has committed; closing the socket unanswered is what a dropped proxy does.
            if request.transport is not None:
                request.transport.close()
        return response

    return middleware


async def _get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[FAULTS_KEY].snapshot())


async def _set_faults(request: web.Request) -> web.Response:
    try:
        plan = FaultPlan.model_validate_json(await request.read() or b"{}")
    except ValidationError as exc:
        return web.json_response({"errors": exc.errors(include_url=False)}, status=400)
    request.app[FAULTS_KEY].set_plan(plan)
    return web.json_response(request.app[FAULTS_KEY].snapshot())


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[FAULTS_KEY].set_plan(FaultPlan())
    return web.json_response(request.app[FAULTS_KEY].snapshot())


def add_fault_routes(app: web.Application, injector: FaultInjector) -> None:
    """Expose ``GET|POST|DELETE /_admin/faults`` for reading, replacing and clearing the plan."""
    app[FAULTS_KEY] = injector
    app.router.add_get("/_admin/faults", _get_faults)
    app.router.add_post("/_admin/faults", _set_faults)
    app.router.add_delete("/_admin/faults", _clear_faults)
