"""Fixtures: a seeded Deltek simulator on a loopback port and a real client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from shared.deltek import DeltekClient, DeltekConfig
from shared.http import Backoff, RetryPolicy
from simulators.common.faults import FAULTS_KEY, FaultInjector, FaultPlan
from simulators.common.server import serve
from simulators.deltek import SeedOptions, SimOptions, create_app
from simulators.deltek.state import STATE_KEY, SimState

TODAY = date(2026, 6, 15)  # open periods: 202604..202607
SMALL_SEED = SeedOptions(seed=7, vendors=40, projects=12, today=TODAY)


@dataclass
class Sim:
    """A running simulator: its app (for direct state checks), URL and an HTTP session."""

    app: web.Application
    url: str
    http: aiohttp.ClientSession
    sleeps: list[float] = field(default_factory=list)

    @property
    def state(self) -> SimState:
        return self.app[STATE_KEY]

    @property
    def faults(self) -> FaultInjector:
        return self.app[FAULTS_KEY]

    @property
    def api(self) -> str:
        return f"{self.url}{self.state.prefix}/api"

    def config(self, **overrides: Any) -> DeltekConfig:
        values: dict[str, Any] = {
            "base_url": self.api,
            "username": "COUPA_API",
            "password": "sim-password",
            "database": "ACME_PROD",
            "client_id": "coupa-connector",
            "client_secret": "sim-secret",
            "page_size": 25,
        }
        return DeltekConfig(**{**values, **overrides})

    def client(self, **overrides: Any) -> DeltekClient:
        async def record_sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        retry = RetryPolicy(attempts=4, backoff=Backoff(initial=0.001, maximum=0.005))
        return DeltekClient(self.config(**overrides), retry=retry, sleep=record_sleep)

    async def set_faults(self, **plan: Any) -> None:
        """Through the admin API, as a test harness outside the process would."""
        body = FaultPlan(**plan).model_dump(mode="json")
        async with self.http.post(f"{self.url}/_admin/faults", json=body) as response:
            assert response.status == 200

    async def token(self) -> str:
        form = {"username": "u", "password": "p", "grant_type": "password", "client_id": "c"}
        async with self.http.post(f"{self.api}/token", data=form) as response:
            assert response.status == 200
            return str((await response.json())["access_token"])

    async def get(self, path: str, token: str, **params: str) -> aiohttp.ClientResponse:
        headers = {"Authorization": f"Bearer {token}"}
        return await self.http.get(f"{self.api}{path}", params=params, headers=headers)


SimFactory = Callable[..., Awaitable[Sim]]


@pytest.fixture
async def start_sim() -> AsyncIterator[SimFactory]:
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())

        async def start(options: SimOptions | None = None, faults: FaultPlan | None = None) -> Sim:
            app = create_app(options or SimOptions(seed=SMALL_SEED), faults)
            url = await stack.enter_async_context(serve(app))
            return Sim(app, url, http)

        yield start


@pytest.fixture
async def sim(start_sim: SimFactory) -> Sim:
    return await start_sim()


@pytest.fixture
async def vp(sim: Sim) -> AsyncIterator[DeltekClient]:
    async with sim.client() as client:
        yield client
