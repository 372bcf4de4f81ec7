"""The mapper on a real Postgres: a connection with a Deltek reference cache, invoices to send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg
import pytest

from services.mapper.handler import mapper_handler
from services.mapper.snapshots import ReferenceSnapshots
from services.mapper.workflow import MapperDeps
from shared.connections.store import load_connection_settings
from shared.db.pool import Pool, create_pool
from shared.kafka.envelope import Coordinates, Envelope
from shared.kafka.topics import Topics
from shared.messages import INVOICE_APPROVED, InvoiceApproved
from shared.settings import MapperTuning
from tests.unit.mapper.builders import SETTINGS, Json, account, invoice, line

CONNECTION = "acme"
STRANGER = {"id": 900, "number": "V-00900", "name": "Nobody Known LLC"}


async def seed(conn: asyncpg.Connection | Any) -> None:
    """Connection ``acme`` and its Deltek cache: one vendor, the GL accounts, projects, periods."""
    await conn.execute(
        "INSERT INTO connections (name, settings) VALUES ($1, $2)",
        CONNECTION,
        SETTINGS.model_dump(mode="json", include={"mapping", "deltek"}),
    )
    await conn.execute(
        "INSERT INTO deltek_vendors (connection, client_id, vendor, name, status, tax_id) "
        "VALUES ($1, 'c1', 'NWS0001', 'Northwind Survey Services LLC', 'A', '91-1234567'), "
        "($1, 'c2', 'NKL0001', 'Nobody Known Ltd', 'A', NULL)",
        CONNECTION,
    )
    await conn.executemany(
        "INSERT INTO deltek_accounts (connection, account, name, status) VALUES ($1, $2, $2, 'A')",
        [(CONNECTION, a) for a in ("5200", "5300", "642.00", "699.00", "215.00")],
    )
    await conn.executemany(
        "INSERT INTO deltek_projects (connection, wbs1, wbs2, wbs3, name, status, charge_type, "
        "sub_level) VALUES ($1, $2, $3, ' ', $4, 'A', 'R', $5)",
        [
            (CONNECTION, "1001", " ", "Library Renovation", True),
            (CONNECTION, "1001", "100", "Schematic Design", False),
        ],
    )
    await conn.executemany(
        "INSERT INTO deltek_periods (connection, period, starts_on, ends_on, closed) "
        "VALUES ($1, $2, $3, $4, false)",
        [(CONNECTION, 202503, date(2025, 3, 1), date(2025, 3, 31))],
    )


def invoice_envelope(
    coupa_id: int = 48213, *, supplier: Json | None = None, fields: dict[str, Any] | None = None
) -> Envelope:
    """The §9.2 invoice (two PO lines, header tax) with ``fields`` replaced."""
    lines = [line(1, "300.00"), line(2, "200.00", account("1001", "5300", "100"))]
    inv = invoice(lines, tax="41.25", id=coupa_id, supplier=supplier, fields=fields)
    return Envelope(
        schema=INVOICE_APPROVED,
        connection=CONNECTION,
        key=f"{CONNECTION}:invoice:{coupa_id}",
        source="webhook",
        payload=InvoiceApproved(invoice=inv).model_dump(mode="json"),
    )


@dataclass
class Sink:
    """A publisher that keeps what it is given."""

    sent: list[tuple[str, Envelope]] = field(default_factory=list)

    async def publish(self, topic: str, envelope: Envelope) -> None:
        self.sent.append((topic, envelope))


@dataclass
class Rig:
    pool: Pool
    sink: Sink
    deps: MapperDeps
    offset: int = 0

    async def deliver(self, envelope: Envelope) -> None:
        """Hand one message to the mapper's handler, as the consumer loop would."""
        self.offset += 1
        coords = Coordinates(topic="coupa.invoices", partition=0, offset=self.offset)
        await mapper_handler(self.deps)(envelope, coords)

    async def records(self) -> list[asyncpg.Record]:
        return await self.pool.fetch("SELECT * FROM records ORDER BY id")


@pytest.fixture
async def rig(db_url: str) -> AsyncIterator[Rig]:
    pool = await create_pool(db_url)
    async with pool.acquire() as conn:
        await seed(conn)
    sink = Sink()
    references = ReferenceSnapshots(ttl_seconds=MapperTuning().reference_ttl_seconds)
    deps = MapperDeps(pool, sink, Topics(), load_connection_settings, references)
    try:
        yield Rig(pool, sink, deps)
    finally:
        await pool.close()
