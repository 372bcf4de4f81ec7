"""The console app over real HTTP with real Postgres and broker, and users of each role."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.console.app import create_app
from services.console.settings import ConsoleSettings, ConsoleTuning
from services.console.users import Role, User, hash_password
from shared.endpoints import Endpoints

PASSWORD = "correct horse battery"
SECRET = "s" * 40
USERS = {
    name: User(name, role, hash_password(PASSWORD))
    for name, role in (("vera", Role.VIEWER), ("otto", Role.OPERATOR), ("ada", Role.ADMIN))
}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Console:
    client: TestClient  # type: ignore[type-arg]

    async def csrf(self, path: str = "/sign-in") -> str:
        async with self.client.get(path) as page:
            return csrf_of(await page.text())

    async def sign_in(self, name: str, password: str = PASSWORD) -> int:
        token = await self.csrf()
        form = {"csrf": token, "name": name, "password": password, "next": "/"}
        async with self.client.post("/sign-in", data=form, allow_redirects=False) as answer:
            return answer.status

    async def post(self, path: str, form: dict[str, str], *, token_from: str) -> tuple[int, str]:
        """POST ``form`` with the CSRF token of the page at ``token_from``."""
        data = {"csrf": await self.csrf(token_from), **form}
        async with self.client.post(path, data=data, allow_redirects=False) as answer:
            return answer.status, answer.headers.get("Location", "") or await answer.text()


@pytest.fixture
def console_settings(topics, kafka_tuning) -> ConsoleSettings:
    kafka = kafka_tuning.model_copy(update={"topic_prefix": topics.prefix})
    # Plain HTTP on loopback, as under `connector dev`: a Secure cookie would not come back.
    tuning = ConsoleTuning(sign_in_failures=3, sign_in_window_seconds=60, secure_cookies=False)
    return ConsoleSettings(kafka=kafka, console=tuning)


@pytest.fixture
async def console(db_url, kafka_bootstrap, console_settings) -> AsyncIterator[Console]:
    app = create_app(console_settings, Endpoints(db_url, kafka_bootstrap), USERS, SECRET)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Console(client)
