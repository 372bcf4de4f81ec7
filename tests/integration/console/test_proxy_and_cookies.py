"""Behind a reverse proxy: sign-in failures are counted per client, not per proxy, and the session
cookie is Secure whatever Host the proxy forwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.console.app import create_app
from services.console.sessions import COOKIE
from services.console.settings import ConsoleSettings, ConsoleTuning
from shared.endpoints import Endpoints
from tests.integration.console.conftest import PASSWORD, SECRET, USERS, csrf_of

pytestmark = pytest.mark.integration

Client = TestClient[web.Request, web.Application]
Start = Callable[[ConsoleTuning], AbstractAsyncContextManager[Client]]


@pytest.fixture
def start_console(db_url, kafka_bootstrap, console_settings) -> Start:
    """A console with the given tuning; the test client connects from 127.0.0.1."""

    @asynccontextmanager
    async def start(tuning: ConsoleTuning) -> AsyncIterator[Client]:
        settings = ConsoleSettings(kafka=console_settings.kafka, console=tuning)
        app = create_app(settings, Endpoints(db_url, kafka_bootstrap), USERS, SECRET)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield client

    return start


async def sign_in(client: Client, name: str, password: str, forwarded_for: str) -> int:
    """One sign-in as it reaches the console through a proxy that sets X-Forwarded-For."""
    async with client.get("/sign-in") as page:
        token = csrf_of(await page.text())
    form = {"csrf": token, "name": name, "password": password, "next": "/"}
    headers = {"X-Forwarded-For": forwarded_for}
    async with client.post("/sign-in", data=form, headers=headers, allow_redirects=False) as answer:
        return answer.status


def tuning(**changes: object) -> ConsoleTuning:
    loopback_http = {"sign_in_failures": 3, "sign_in_window_seconds": 60, "secure_cookies": False}
    return ConsoleTuning.model_validate({**loopback_http, **changes})


async def test_behind_a_trusted_proxy_one_clients_failures_do_not_lock_out_another(
    start_console,
):
    async with start_console(tuning(trusted_proxies=["127.0.0.0/8"])) as client:
        for _ in range(3):
            assert await sign_in(client, "otto", "wrong password", "203.0.113.5") == 401
        assert await sign_in(client, "ada", PASSWORD, "198.51.100.7") == 303
        # The client that used up its tries is still held, whoever it signs in as.
        assert await sign_in(client, "vera", PASSWORD, "203.0.113.5") == 429


async def test_addresses_a_client_wrote_before_the_proxys_own_are_not_believed(start_console):
    async with start_console(tuning(trusted_proxies=["127.0.0.0/8", "10.0.0.0/8"])) as client:
        # The client claims a fresh address each time; the proxies append the real one.
        for n in range(3):
            forged = f"192.0.2.{n}, 203.0.113.5, 10.1.2.3"
            assert await sign_in(client, "otto", "wrong password", forged) == 401
        assert await sign_in(client, "ada", PASSWORD, "192.0.2.99, 203.0.113.5, 10.1.2.3") == 429
        assert await sign_in(client, "ada", PASSWORD, "198.51.100.7, 10.1.2.3") == 303


async def test_without_trusted_proxies_the_header_is_ignored(start_console):
    async with start_console(tuning()) as client:
        for n in range(3):
            assert await sign_in(client, "otto", "wrong password", f"192.0.2.{n}") == 401
        assert await sign_in(client, "ada", PASSWORD, "198.51.100.7") == 429


async def cookie_is_secure(client: Client, host: str) -> bool:
    async with client.get("/sign-in", headers={"Host": host}) as page:
        return bool(page.cookies[COOKIE]["secure"])


async def test_the_cookie_is_secure_by_default_even_when_host_says_loopback(start_console):
    """A TLS proxy that forwards ``Host: 127.0.0.1`` over plain HTTP must not strip Secure."""
    async with start_console(ConsoleTuning()) as client:
        assert await cookie_is_secure(client, "127.0.0.1")


async def test_the_cookie_drops_secure_only_when_told_whatever_the_host(start_console):
    async with start_console(tuning()) as client:
        assert not await cookie_is_secure(client, "console.example.com")
