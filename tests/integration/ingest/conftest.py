"""Ingest under test: a Coupa simulator on loopback, and a connections directory pointing at it."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from services.ingest.app import create_app as create_ingest
from shared.coupa import CoupaClient, CoupaClientConfig
from shared.endpoints import Endpoints
from shared.service.app import ADMIN_URL, serve_admin
from shared.settings import IngestTuning, Settings
from simulators.common.server import serve
from simulators.coupa.api import STORE_KEY
from simulators.coupa.app import create_app as create_coupa_sim
from simulators.coupa.options import CoupaSimOptions, SeedSize
from simulators.coupa.store import CoupaStore

CONNECTION = "acme"
SECRET = "callout-secret-1"


@dataclass
class SimDirectory:
    """One connection, ``acme``, whose Coupa is the simulator; the poll is off unless asked."""

    client: CoupaClient
    secrets: list[str] = field(default_factory=lambda: [SECRET])
    interval: float = 3600.0
    polling: bool = False
    # Every name whose Call Out secrets were asked for, in order: what a query would cost.
    looked_up: list[str] = field(default_factory=list)

    async def names(self) -> list[str]:
        return [CONNECTION] if self.polling else []

    async def callout_secrets(self, name: str) -> list[str] | None:
        self.looked_up.append(name)
        return list(self.secrets) if name == CONNECTION else None

    async def poll_interval(self, name: str) -> float:
        return self.interval

    async def coupa(self, name: str) -> CoupaClient:
        return self.client


def sim_client(stack: AsyncExitStack, url: str, **settings: Any) -> CoupaClient:
    """A real Coupa client for the simulator at ``url``, test-speed, closed with ``stack``."""
    client = CoupaClient(
        CoupaClientConfig(
            base_url=url,
            client_id="connector",
            client_secret=SecretStr("coupa-secret"),
            token_first_use_delay_seconds=0.0,
            backoff_initial_seconds=0.01,
            backoff_max_seconds=0.05,
            **settings,
        )
    )
    stack.push_async_callback(client.close)
    return client


@dataclass
class IngestRig:
    client: TestClient[Any, Any]
    directory: SimDirectory
    sim_store: CoupaStore
    sim_url: str

    async def coupa_calls(self) -> Counter[str]:
        """Every Coupa API request the simulator has answered, by ``METHOD /path``, as its
        ``GET /_admin/requests`` counts them."""
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.sim_url}/_admin/requests") as answer,
        ):
            return Counter((await answer.json())["counts"])

    async def metrics(self) -> str:
        """The service's metrics, from its admin port (never the port Coupa pushes to)."""
        async with self.client.session.get(self.client.app[ADMIN_URL] / "metrics") as scraped:
            return await scraped.text()


@dataclass(frozen=True)
class RawAnswer:
    status: int
    body: bytes


async def send_raw(
    rig: IngestRig,
    path: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    *,
    declared_length: int | None = None,
    within: float = 5.0,
) -> RawAnswer:
    """A POST written byte for byte, for what aiohttp's client will not send (header values that
    are not ASCII, or not UTF-8) and to see what ingest answers before a body arrives:
    ``declared_length`` announces more than ``body`` holds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", rig.client.port)
    length = len(body) if declared_length is None else declared_length
    head = [
        b"POST " + path.encode() + b" HTTP/1.1",
        b"Host: 127.0.0.1",
        b"Connection: close",
        b"Content-Length: %d" % length,
        *(name + b": " + value for name, value in headers),
    ]
    try:
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        # Answered and closed before all was sent (a refused header): the answer is still there.
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return await asyncio.wait_for(_answer(reader), within)
    finally:
        writer.close()


async def _answer(reader: asyncio.StreamReader) -> RawAnswer:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    fields = {name: value for name, _, value in (line.lower().partition(": ") for line in head)}
    length = fields.get("content-length")
    body = await (reader.readexactly(int(length)) if length else reader.read())
    return RawAnswer(int(head[0].split()[1]), body)


StartRig = Callable[..., Awaitable[IngestRig]]


@pytest.fixture
async def start_rig(
    db_url, kafka_bootstrap, topics, kafka_tuning, consumer_tuning
) -> AsyncIterator[StartRig]:
    """Start ingest against a fresh simulator; keyword arguments go to its Coupa client."""
    async with AsyncExitStack() as stack:

        async def start(**client_settings: Any) -> IngestRig:
            options = CoupaSimOptions(
                size=SeedSize(suppliers=20, projects=5, purchase_orders=15, invoices=40)
            )
            sim_app = create_coupa_sim(options)
            url = await stack.enter_async_context(serve(sim_app))
            directory = SimDirectory(sim_client(stack, url, **client_settings))
            settings = Settings(
                kafka=kafka_tuning.model_copy(update={"topic_prefix": topics.prefix}),
                consumer=consumer_tuning,
                max_body_bytes=64 * 1024,
                ingest=IngestTuning(first_poll_lookback_days=3650),
                admin_port=0,
            )
            app = create_ingest(settings, Endpoints(db_url, kafka_bootstrap), directory)
            serve_admin(app)
            client = await stack.enter_async_context(TestClient(TestServer(app, host="127.0.0.1")))
            return IngestRig(client, directory, sim_app[STORE_KEY], url)

        yield start


@pytest.fixture
async def rig(start_rig: StartRig) -> IngestRig:
    return await start_rig()
