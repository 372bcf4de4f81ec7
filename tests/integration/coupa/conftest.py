"""Fixtures that run the Coupa simulator on a loopback port and point real clients at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from shared.coupa import CoupaClient, CoupaClientConfig
from simulators.common.faults import FAULTS_KEY, FaultPlan
from simulators.common.requests import REQUEST_LOG_KEY
from simulators.common.server import serve
from simulators.coupa.admin import PUSHER_KEY
from simulators.coupa.api import STORE_KEY, TOKENS_KEY
from simulators.coupa.app import create_app
from simulators.coupa.options import CoupaSimOptions, SeedSize

SMALL = SeedSize(suppliers=40, projects=8, purchase_orders=30, invoices=160)


@dataclass
class Sim:
    """A running simulator and handles on its in-process state."""

    app: web.Application
    url: str

    @property
    def store(self):
        return self.app[STORE_KEY]

    @property
    def tokens(self):
        return self.app[TOKENS_KEY]

    @property
    def pusher(self):
        return self.app[PUSHER_KEY]

    @property
    def requests(self) -> list[dict[str, Any]]:
        return list(self.app[REQUEST_LOG_KEY].entries)

    def faults(self, **plan: Any) -> None:
        self.app[FAULTS_KEY].set_plan(FaultPlan.model_validate(plan))

    def injected(self) -> dict[str, int]:
        return dict(self.app[FAULTS_KEY].injected)

    def statuses(self) -> list[int]:
        return [r.get("status", 0) for r in self.requests]


StartSim = Callable[..., Awaitable[Sim]]
MakeClient = Callable[..., CoupaClient]


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exit_stack:
        yield exit_stack


@pytest.fixture
def start_sim(stack: AsyncExitStack) -> StartSim:
    """Start a simulator with the given option overrides (small seed by default)."""

    async def start(**overrides: Any) -> Sim:
        options = CoupaSimOptions.model_validate({"size": SMALL, **overrides})
        app = create_app(options)
        url = await stack.enter_async_context(serve(app))
        return Sim(app, url)

    return start


@pytest.fixture
async def sim(start_sim: StartSim) -> Sim:
    return await start_sim()


@pytest.fixture
def make_client(stack: AsyncExitStack) -> Callable[..., CoupaClient]:
    """A real CoupaClient against ``sim`` with test-speed backoff and no first-use delay."""

    def make(sim: Sim, **overrides: Any) -> CoupaClient:
        settings: dict[str, Any] = {
            "base_url": sim.url,
            "client_id": "connector",
            "client_secret": "s3cret-value",
            "backoff_initial_seconds": 0.01,
            "backoff_max_seconds": 0.05,
            "token_first_use_delay_seconds": 0.0,
            "timeout_seconds": 5.0,
        }
        client = CoupaClient(CoupaClientConfig.model_validate(settings | overrides))
        stack.push_async_callback(client.close)
        return client

    return make


@pytest.fixture
async def http(stack: AsyncExitStack) -> aiohttp.ClientSession:
    """A bare HTTP session for fidelity tests that look at the wire format directly."""
    return await stack.enter_async_context(aiohttp.ClientSession())


@pytest.fixture
def mint(http: aiohttp.ClientSession) -> Callable[..., Awaitable[str]]:
    """Mint a token the way any Coupa client does (coupa-api.md §1)."""

    async def mint_token(sim: Sim, scope: str | None = None) -> str:
        form = {"client_id": "a", "client_secret": "b", "grant_type": "client_credentials"}
        if scope:
            form["scope"] = scope
        async with http.post(f"{sim.url}/oauth2/token", data=form) as response:
            assert response.status == 200
            return str((await response.json())["access_token"])

    return mint_token
