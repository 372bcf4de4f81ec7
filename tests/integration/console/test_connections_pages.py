"""The Connections page over HTTP on real Postgres, with connections stored as ``connections
apply`` stores them against the real simulators: status, and the diagnostics on a button
(operator, CSRF, audited), and a plain answer where the console has no master key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from services.console.app import create_app
from services.console.settings import ConsoleSettings
from shared.connections.store import apply_connections
from shared.db.pool import init_connection
from shared.endpoints import Endpoints
from shared.secrets import KeyRing, generate_key
from tests.integration.connections.conftest import (
    DELTEK_PASSWORD,
    ENV,
    Sims,
    connection,
    start_sims,
)
from tests.integration.console.conftest import SECRET, USERS, Console
from tests.integration.console.test_pages import action_forms, fetchval, page

pytestmark = pytest.mark.integration
__all__ = ["start_sims"]  # the simulators' fixture, used here too

KEY = generate_key()


async def store(db_url: str, tmp_path: Path, sims: Sims, env: dict[str, str] | None = None) -> None:
    """The example connection ``acme`` pointed at ``sims``, sealed under ``KEY``."""
    ring = KeyRing.from_settings(ConsoleSettings(master_key=SecretStr(KEY)))
    conn = await asyncpg.connect(db_url)
    try:
        await init_connection(conn)
        await apply_connections(conn, ring, [connection(tmp_path, sims, env)])
    finally:
        await conn.close()


@pytest.fixture
async def keyed(db_url, kafka_bootstrap, console_settings, tmp_path) -> AsyncIterator[Console]:
    """The console as deployed with ``CONNECTOR_MASTER_KEY`` (and a state folder of its own)."""
    settings = console_settings.model_copy(
        update={"master_key": SecretStr(KEY), "state_dir": str(tmp_path / "state")}
    )
    app = create_app(settings, Endpoints(db_url, kafka_bootstrap), USERS, SECRET)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Console(client)


async def test_the_page_shows_each_connection_and_its_reference_data(
    keyed, db_url, tmp_path, start_sims
):
    await store(db_url, tmp_path, await start_sims())
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(
            "INSERT INTO reference_refreshes (connection, kind, rows) VALUES ('acme', 'vendors', 7)"
        )
    finally:
        await conn.close()
    await keyed.sign_in("vera")
    html = await page(keyed, "/connections")
    assert '<h2 id="connection-acme">acme <span class="mode mode-live">live</span></h2>' in html
    assert "coupa.client_secret (key " in html and "deltek.password (key " in html
    assert "every secret opens with this console's keys" in html
    assert '<th scope="row">vendors</th><td class="num">7</td>' in html
    assert DELTEK_PASSWORD not in html
    assert action_forms(html) == []  # a viewer gets no button


async def test_an_operator_runs_the_diagnostics_and_sees_each_check(
    keyed, db_url, tmp_path, start_sims
):
    await store(db_url, tmp_path, await start_sims())
    await keyed.sign_in("otto")
    status, html = await keyed.post("/connections/acme/test", {}, token_from="/connections")
    assert status == 200
    assert "<h1>acme: all checks passed</h1>" in html
    for check in ("Coupa token", "Coupa reads", "Deltek token", "Open periods", "Ledger column"):
        assert f'<th scope="row">{check}</th>\n    <td><span class="state state-ok">OK' in html
    assert "ASSUMED" in html and DELTEK_PASSWORD not in html
    audit = await fetchval(
        db_url,
        "SELECT record_key || ' ' || service || ' ' || (details->>'user')"
        " FROM audit_events WHERE event = 'connection_tested'",
    )
    assert audit == "acme:connection:settings console:otto otto"


async def test_a_wrong_secret_shows_as_a_problem_with_its_fix(keyed, db_url, tmp_path, start_sims):
    env = {**ENV, "ACME_DELTEK_PASSWORD": "not-the-password"}
    await store(db_url, tmp_path, await start_sims(), env=env)
    await keyed.sign_in("ada")
    _, html = await keyed.post("/connections/acme/test", {}, token_from="/connections")
    assert "<h1>acme: 1 problem(s)</h1>" in html
    assert "rejected the user &#39;" in html and "fix: check deltek.username" in html
    assert "not-the-password" not in html


async def test_a_viewer_or_a_form_without_its_token_cannot_run_them(
    keyed, db_url, tmp_path, start_sims
):
    await store(db_url, tmp_path, await start_sims())
    await keyed.sign_in("vera")
    status, _ = await keyed.post("/connections/acme/test", {}, token_from="/connections")
    assert status == 403
    await keyed.sign_in("otto")
    async with keyed.client.post("/connections/acme/test") as answer:
        assert answer.status == 403
    tested = "SELECT count(*) FROM audit_events WHERE event = 'connection_tested'"
    assert await fetchval(db_url, tested) == 0


async def test_without_the_master_key_the_page_says_so_and_offers_no_button(
    console, db_url, tmp_path, start_sims
):
    await store(db_url, tmp_path, await start_sims())
    await console.sign_in("otto")
    html = await page(console, "/connections")
    assert "this console has no master key to\ndecrypt" in html
    assert "CONNECTOR_MASTER_KEY is not set" in html
    assert action_forms(html) == []
    status, answer = await console.post("/connections/acme/test", {}, token_from="/connections")
    assert status == 503 and "cannot decrypt credentials" in answer


async def test_an_unknown_connection_is_not_found(keyed):
    await keyed.sign_in("otto")
    status, _ = await keyed.post("/connections/nobody/test", {}, token_from="/connections")
    assert status == 404
