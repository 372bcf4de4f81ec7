"""The aiohttp application every service is built on: health, readiness, metrics, lifecycle.

Resources (pool, producer) and background loops are cleanup contexts on the app, so they start
before the port opens and are torn down in reverse order on SIGTERM: the loop drains and commits
first, the producer flushes next, the pool closes last.

Metrics are served on an admin port of their own, never on the service's port: ingest's takes
Coupa's Call Outs from outside, and the refusal counts would tell an outsider whether a captured
request was taken for genuine.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiokafka.errors import KafkaConnectionError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from yarl import URL

from shared.db.pool import Pool, create_pool
from shared.endpoints import Endpoints
from shared.kafka.producer import Publisher
from shared.logs import redact
from shared.secrets import SecretsError
from shared.service.metrics import ServiceMetrics
from shared.service.readiness import Readiness, Verdict
from shared.settings import Settings

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
ENDPOINTS = web.AppKey("endpoints", Endpoints)
METRICS = web.AppKey("metrics", ServiceMetrics)
POOL = web.AppKey("pool", Pool)
PUBLISHER = web.AppKey("publisher", Publisher)
READINESS = web.AppKey("readiness", Readiness)
# Where the admin port (``/metrics``) listens once ``serve_admin``'s context has opened it.
ADMIN_URL = web.AppKey("admin_url", URL)


@dataclass
class RunState:
    """What the app's own loops report back to ``run_service``."""

    exit_code: int = 0


RUN_STATE = web.AppKey("run_state", RunState)

_READY_TIMEOUT = 2.0
# How long a starting service waits for Postgres to answer before it gives up and says so.
_START_DATABASE_TIMEOUT = 10.0


class StartupError(RuntimeError):
    """The service cannot start; the message says what is wrong and which setting fixes it."""


# What a database connection raises when there is none to be had (refused, unknown host, wrong
# password or database, no answer in time).
DATABASE_UNREACHABLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def database_unreachable(url: str, exc: BaseException) -> StartupError:
    """The one line for a database that does not answer, without the URL's password."""
    return StartupError(
        redact(
            f"cannot reach PostgreSQL at {url} ({type(exc).__name__}: {exc}); "
            "set CONNECTOR_DATABASE_URL to a database that answers"
        )
    )


def broker_unreachable(bootstrap: str) -> StartupError:
    """The one line for brokers none of which answer (aiokafka has logged why)."""
    return StartupError(
        f"cannot reach a Kafka broker at {bootstrap}; set CONNECTOR_KAFKA_BOOTSTRAP to brokers "
        "that answer"
    )


def base_app(name: str, settings: Settings, endpoints: Endpoints) -> web.Application:
    """An app with the endpoints and resources every service has; add routes and loops after."""
    metrics = ServiceMetrics(name)
    app = web.Application(
        middlewares=[_metrics_middleware(metrics)], client_max_size=settings.max_body_bytes
    )
    app[SETTINGS] = settings
    app[ENDPOINTS] = endpoints
    app[METRICS] = metrics
    app[RUN_STATE] = RunState()
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.cleanup_ctx.append(_pool_ctx)
    app.cleanup_ctx.append(_publisher_ctx)
    app.cleanup_ctx.append(_readiness_ctx)
    return app


def serve_admin(app: web.Application) -> None:
    """Open the admin port (``/metrics``) with ``app``, at ``admin_host``:``admin_port``.

    It opens before the app's resources and closes after them, so a scrape during start or
    drain still answers. ``run_service`` calls this; tests call it to reach the port the same
    way, and leave it out where they need no metrics over HTTP.
    """
    app.cleanup_ctx.insert(0, _admin_ctx)


class BackgroundLoop(Protocol):
    """A loop a service runs beside its HTTP server (a Kafka consumer, a poller)."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


def add_background_loop(
    app: web.Application, make: Callable[[web.Application], BackgroundLoop]
) -> None:
    """Run the loop ``make(app)`` builds as a task owned by the app; drain it on shutdown.

    If the loop dies on its own the process exits non-zero, so a supervisor or Kubernetes
    restarts it rather than leaving a service that answers health checks but does no work.
    """

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        loop = make(app)
        task = asyncio.create_task(loop.run())
        task.add_done_callback(lambda done: _exit_if_crashed(done, app[RUN_STATE]))
        yield
        loop.stop()
        timeout = app[SETTINGS].shutdown_timeout_seconds
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            log.error("background loop did not drain in time; cancelling")
            task.cancel()

    app.cleanup_ctx.append(ctx)


def _exit_if_crashed(task: asyncio.Task[None], state: RunState) -> None:
    if task.cancelled() or task.exception() is None:
        return
    log.critical("background loop crashed", exc_info=task.exception())
    state.exit_code = 1
    os.kill(os.getpid(), signal.SIGTERM)


async def _pool_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    # min_size 0: the service starts and reports "not ready" while Postgres is down.
    app[POOL] = await create_pool(
        app[ENDPOINTS].database_url, min_size=0, max_size=settings.db_pool_max
    )
    # finally: a later step failing at start leaves this context un-exited, and only the event
    # loop's shutdown of async generators, which runs this, closes the pool then.
    try:
        yield
    finally:
        await app[POOL].close()


async def _database_reachable_ctx(app: web.Application) -> AsyncIterator[None]:
    """A service started against a database that does not answer stops and says so.

    Only at start: the pool is made to ride out Postgres going away later (``_pool_ctx``), and
    tests that build the app itself keep that behaviour from the first moment.
    """
    try:
        await asyncio.wait_for(app[POOL].fetchval("SELECT 1"), _START_DATABASE_TIMEOUT)
    except DATABASE_UNREACHABLE as exc:
        raise database_unreachable(app[ENDPOINTS].database_url, exc) from exc
    yield


async def _publisher_ctx(app: web.Application) -> AsyncIterator[None]:
    bootstrap = app[ENDPOINTS].kafka_bootstrap
    publisher = Publisher(bootstrap, app[SETTINGS].kafka)
    try:
        await publisher.start()
    except KafkaConnectionError as exc:
        await publisher.stop()  # else asyncio complains of an unclosed producer on the way out
        raise broker_unreachable(bootstrap) from exc
    app[PUBLISHER] = publisher
    try:
        yield
    finally:  # as in _pool_ctx
        await publisher.stop()


async def _readiness_ctx(app: web.Application) -> AsyncIterator[None]:
    async def check() -> Verdict:
        return {
            "postgres": await _check(app[POOL].fetchval("SELECT 1")),
            "kafka": await _check(app[PUBLISHER].ping()),
        }

    readiness = Readiness(check, app[SETTINGS].readiness_cache_seconds)
    app[READINESS] = readiness
    yield
    await readiness.close()


async def _admin_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    admin = web.Application()
    admin[METRICS] = app[METRICS]
    admin.router.add_get("/metrics", _metrics)
    runner = web.AppRunner(admin, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.admin_host, settings.admin_listen_port())
        try:
            await site.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise StartupError(
                f"the admin port {settings.admin_listen_port()} on {settings.admin_host} "
                "(/metrics) is in use; set CONNECTOR_ADMIN_PORT to a free port, or 0 for any"
            ) from exc
        # The port actually bound: admin_port 0 lets the system pick one.
        host, port = runner.addresses[0][:2]
        app[ADMIN_URL] = URL.build(scheme="http", host=host, port=port)
        log.info("metrics served", extra={"url": f"{app[ADMIN_URL]}/metrics"})
        yield
    finally:
        await runner.cleanup()


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def _readyz(request: web.Request) -> web.Response:
    checks = await request.app[READINESS].verdict()
    ok = all(value == "ok" for value in checks.values())
    return web.json_response(checks, status=200 if ok else 503)


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, _READY_TIMEOUT)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _metrics_middleware(metrics: ServiceMetrics) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            metrics.http_requests.labels(route, request.method, str(status)).inc()
            metrics.http_seconds.labels(route, request.method).observe(
                time.perf_counter() - started
            )

    return middleware


def run_service(app: web.Application) -> int:
    """Serve until SIGTERM or SIGINT, then drain; the exit code says whether a loop crashed.

    Raises :class:`StartupError` when the service cannot start: no master key, a database or
    broker that does not answer, a port already in use.
    """
    settings = app[SETTINGS]
    serve_admin(app)
    app.cleanup_ctx.insert(app.cleanup_ctx.index(_pool_ctx) + 1, _database_reachable_ctx)
    try:
        web.run_app(
            app,
            host=settings.http_host,
            port=settings.http_port,
            print=None,
            access_log=None,
            shutdown_timeout=min(settings.shutdown_timeout_seconds, 10.0),
            handle_signals=True,
        )
    except SecretsError as exc:  # the connections store's key, checked as it opens
        raise StartupError(str(exc)) from exc
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise StartupError(
            f"port {settings.http_port} on {settings.http_host} is in use; choose another with "
            "--port or CONNECTOR_HTTP_PORT"
        ) from exc
    return app[RUN_STATE].exit_code
