"""A whole local stack for end-to-end tests: embedded Postgres and broker, both simulators, the
three services as processes, and the simulators' connection with its maps aligned."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest

from devstack.checker import Verdict, judge, supplier_map
from devstack.driver import deltek_batches, wait_until_settled
from devstack.supervisor import SIM_CONNECTION, Stack
from devstack.throwaway import throwaway_stack


@dataclass
class Rig:
    """The running stack and the addresses a test talks to."""

    stack: Stack

    @property
    def coupa(self) -> str:
        return self.stack.child("coupa-sim").url

    @property
    def deltek(self) -> str:
        return self.stack.child("deltek-sim").url

    @property
    def callouts(self) -> str:
        return f"{self.stack.child('ingest').url}/coupa/{SIM_CONNECTION}/invoices"

    @property
    def database_url(self) -> str:
        assert self.stack.endpoints is not None
        return self.stack.endpoints.database_url

    async def faults(self, system: str, **plan: Any) -> None:
        url = self.coupa if system == "coupa" else self.deltek
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{url}/_admin/faults", json=plan) as answer,
        ):
            assert answer.status == 200, await answer.text()

    async def injected(self, system: str) -> dict[str, int]:
        """How many faults of each kind a simulator injected since its plan was set."""
        url = self.coupa if system == "coupa" else self.deltek
        async with aiohttp.ClientSession() as http, http.get(f"{url}/_admin/faults") as answer:
            snapshot: dict[str, Any] = await answer.json()
        return dict(snapshot["injected"])

    async def settle(
        self, invoices: list[dict[str, Any]], *, within: float = 90.0, through: tuple[str, ...] = ()
    ) -> dict[str, str]:
        """Wait until no invoice is still moving (nor in a ``through`` state, e.g. parked)."""
        keys = [f"{SIM_CONNECTION}:invoice:{invoice['id']}" for invoice in invoices]
        return await wait_until_settled(self.database_url, keys, within, settled=through)

    async def verdict(self, invoices: list[dict[str, Any]], states: dict[str, str]) -> Verdict:
        async with aiohttp.ClientSession() as http:
            batches = await deltek_batches(http, self.deltek)
        maps = await supplier_map(self.database_url, SIM_CONNECTION)
        return judge(SIM_CONNECTION, invoices, states, batches, maps, label="e2e")

    async def fetchval(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.database_url)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()


@contextmanager
def running_rig(*, create_vendors: bool = False) -> Iterator[Rig]:
    """A fresh stack in a temporary folder, its simulators' connection stored and aligned."""
    with throwaway_stack(
        label="e2e", poll_interval_seconds=2, create_vendors=create_vendors
    ) as stack:
        yield Rig(stack)


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with running_rig() as started:
        yield started
