"""Strict Coupa and Deltek simulators on loopback ports, a connections file pointing at them, and
known secret values, so tests can check both behaviour and that no secret leaks anywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from aiohttp.typedefs import Middleware

from shared.connections.file import load_connections
from shared.connections.model import Connection
from shared.db.pool import init_connection
from simulators.common.server import serve
from simulators.coupa.app import create_app as coupa_app
from simulators.coupa.options import CoupaSimOptions, SeedSize
from simulators.deltek import SeedOptions, SimOptions
from simulators.deltek import create_app as deltek_app
from simulators.deltek.state import STATE_KEY, SimState

EXAMPLE = Path(__file__).parents[3] / "examples" / "connections.yaml"
COUPA_SECRET = "coupa-s3cret-Zq81"
CALLOUT_SECRET = "callout-s3cret-Hh20-0123456789abcdefghij"
DELTEK_PASSWORD = "deltek-pa55-Wd77"
DELTEK_CLIENT_SECRET = "deltek-cl1ent-Ux42"
ENV = {
    "ACME_COUPA_CLIENT_SECRET": COUPA_SECRET,
    "ACME_COUPA_CALLOUT_SECRETS": CALLOUT_SECRET,
    "ACME_DELTEK_PASSWORD": DELTEK_PASSWORD,
    "ACME_DELTEK_CLIENT_SECRET": DELTEK_CLIENT_SECRET,
}
SMALL_COUPA = SeedSize(suppliers=5, projects=2, purchase_orders=3, invoices=5)
SMALL_DELTEK = SeedOptions(seed=3, vendors=5, projects=4)


@dataclass(frozen=True)
class Sims:
    coupa_url: str
    deltek_url: str
    # The simulated tenant itself, for what no option sets (e.g. every period closed).
    deltek: SimState | None = None


StartSims = Callable[..., Awaitable[Sims]]


@pytest.fixture
async def start_sims() -> AsyncIterator[StartSims]:
    """Start both simulators, strict about the credentials in ``ENV``; overrides per system."""
    async with AsyncExitStack() as stack:

        async def start(
            coupa: dict[str, Any] | None = None,
            deltek: dict[str, Any] | None = None,
            deltek_middlewares: tuple[Middleware, ...] = (),
        ) -> Sims:
            coupa_options = CoupaSimOptions.model_validate(
                {
                    "client_id": "connector",
                    "client_secret": COUPA_SECRET,
                    "size": SMALL_COUPA,
                    **(coupa or {}),
                }
            )
            deltek_options = SimOptions.model_validate(
                {
                    "strict_credentials": True,
                    "credentials": {
                        "password": DELTEK_PASSWORD,
                        "client_secret": DELTEK_CLIENT_SECRET,
                    },
                    "seed": SMALL_DELTEK,
                    **(deltek or {}),
                }
            )
            app = deltek_app(deltek_options)
            app.middlewares.extend(deltek_middlewares)  # innermost: after auth, before routes
            coupa_url = await stack.enter_async_context(serve(coupa_app(coupa_options)))
            deltek_url = await stack.enter_async_context(serve(app))
            return Sims(coupa_url, f"{deltek_url}/api", app[STATE_KEY])

        yield start


def write_file(
    path: Path,
    sims: Sims,
    *,
    name: str = "acme",
    coupa: dict[str, Any] | None = None,
    deltek: dict[str, Any] | None = None,
    mapping: dict[str, Any] | None = None,
    extra: list[dict[str, Any]] | None = None,
) -> Path:
    """The example file pointed at ``sims``, with keys of one connection replaced."""
    data = yaml.safe_load(EXAMPLE.read_text())
    entry = data["connections"][0]
    entry["name"] = name
    if name != "acme":
        # A connection of its own needs a Call Out secret of its own (apply refuses a shared one).
        entry["coupa"].pop("callout_secrets_env", None)
        entry["coupa"]["callout_secrets"] = [f"{name}-callout-s3cret-0123456789abcdefghij"]
    entry["coupa"] |= {"base_url": sims.coupa_url, **(coupa or {})}
    entry["deltek"] |= {"base_url": sims.deltek_url, **(deltek or {})}
    entry["mapping"] |= mapping or {}
    data["connections"] += extra or []
    path.write_text(yaml.safe_dump(data))
    return path


def connection(
    tmp_path: Path, sims: Sims, env: dict[str, str] | None = None, **keys: Any
) -> Connection:
    (resolved,) = load_connections(write_file(tmp_path / "c.yaml", sims, **keys), env or ENV)
    return resolved


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(db_url)
    await init_connection(conn)
    yield conn
    await conn.close()
