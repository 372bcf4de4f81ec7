"""Fixtures: a seeded Deltek simulator over HTTP, a real Postgres and broker, poster handlers.

The simulator fixtures are the Deltek client tests' own (imported, not copied); connections are
served by ``SimConnections``, a ``DeltekConnections`` pointed at the simulator.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.poster.handler import PostHandler
from services.poster.jobs import PosterDeps
from services.poster.metrics import PosterMetrics
from shared.connection_settings import ConnectionSettings, DeltekPostingSettings, Mode
from shared.db.pool import Pool, create_pool
from shared.deltek import DeltekClient
from shared.kafka.envelope import Coordinates, Envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics
from shared.messages import POST_AP_INVOICE, ApLine, PostApInvoice, invoice_job_id
from shared.settings import PosterTuning
from tests.integration.deltek.conftest import Sim, sim, start_sim  # noqa: F401 - fixtures

CONNECTION = "acme"
PERIOD = 202606  # open in the small seed (today 2026-06-15)
PROJECT = ("2023001.00", "200")  # an active phase without tasks in the small seed


@dataclass
class SimConnections:
    """One connection whose Deltek is the simulator; ``posting`` and ``mode`` may be changed by
    a test."""

    sim: Sim
    mode: Mode = "live"
    posting: DeltekPostingSettings = field(
        default_factory=lambda: DeltekPostingSettings(
            company="01", liability_code="Trade", bank_code="OPER"
        )
    )
    clients: dict[str, DeltekClient] = field(default_factory=dict)

    async def names(self) -> list[str]:
        return [CONNECTION]

    async def settings_for(self, connection: str) -> ConnectionSettings | None:
        if connection != CONNECTION:
            return None
        return ConnectionSettings(name=connection, mode=self.mode, deltek=self.posting)

    async def client_for(self, connection: str) -> DeltekClient:
        if connection not in self.clients:
            self.clients[connection] = self.sim.client()
        return self.clients[connection]

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(db_url)
    yield pool
    await pool.close()


@pytest.fixture
async def connections(sim: Sim) -> AsyncIterator[SimConnections]:  # noqa: F811 - fixture
    provider = SimConnections(sim)
    yield provider
    await provider.close()


async def no_sleep(_seconds: float) -> None:
    return None


HandlerFactory = Callable[..., PostHandler]


@pytest.fixture
def make_handler(
    pool: Pool, publisher: Publisher, topics: Topics, connections: SimConnections
) -> HandlerFactory:
    def make(owner: str | None = None, sleep=no_sleep, **tuning: Any) -> PostHandler:
        deps = PosterDeps(
            pool=pool,
            publisher=publisher,
            topics=topics,
            connections=connections,
            metrics=PosterMetrics(CollectorRegistry()),
            owner=owner or f"test-{uuid.uuid4().hex[:6]}",
            tuning=PosterTuning(lease_seconds=30, lost_answer_backoff_seconds=0, **tuning),
            sleep=sleep,
        )
        return PostHandler(deps)

    return make


def active_vendor(sim: Sim) -> str:  # noqa: F811 - not the fixture
    firms = sim.state.store.firms.values()
    return next(f["Vendor"] for f in firms if f["VendorInd"] == "Y" and f["Status"] == "A")


def make_command(
    vendor: str,
    coupa_id: int = 4711,
    *,
    version: str = "2026-06-05T10:00:00Z",
    amounts: tuple[str, str] = ("1500.00", "350.00"),
    **changes: Any,
) -> PostApInvoice:
    project_line, overhead_line = (Decimal(a) for a in amounts)
    values: dict[str, Any] = {
        "job_id": invoice_job_id(CONNECTION, coupa_id),
        "connection": CONNECTION,
        "record_key": f"{CONNECTION}:invoice:{coupa_id}",
        "coupa_id": coupa_id,
        "coupa_version": version,
        "invoice_number": f"INV-{coupa_id}",
        "vendor": vendor,
        "invoice_date": date(2026, 6, 3),
        "period": PERIOD,
        "currency": "USD",
        "pay_terms": "Next",
        "total": project_line + overhead_line,
        "approved_at": datetime(2026, 6, 5, 9, 0, tzinfo=UTC),
        "lines": (
            ApLine(seq=1, description="Survey crew", account="513.00", wbs1=PROJECT[0],
                   wbs2=PROJECT[1], amount=project_line, po_number="PO-77120", source="line"),
            ApLine(seq=2, description="Field supplies", account="642.00",
                   amount=overhead_line, source="line"),
        ),
    }  # fmt: skip
    return PostApInvoice(**{**values, **changes})


_offsets = count()


def envelope_of(command: PostApInvoice) -> Envelope:
    return Envelope(
        schema=POST_AP_INVOICE,
        connection=command.connection,
        key=command.record_key,
        source="poll",
        payload=command.model_dump(mode="json"),
    )


def coords_of(topics: Topics) -> Coordinates:
    return Coordinates(topic=topics.deltek_writes, partition=0, offset=next(_offsets))


async def store_record(pool: Pool, command: PostApInvoice, state: str = "mapped") -> int:
    """The record the mapper would have stored before publishing the command."""
    record_id = await pool.fetchval(
        """INSERT INTO records (record_key, connection, kind, coupa_id, version, payload, state,
                                job_id, command)
           VALUES ($1, $2, 'invoice', $3, $4, $5, $6, $7, $8) RETURNING id""",
        command.record_key,
        command.connection,
        str(command.coupa_id),
        command.coupa_version,
        {"id": command.coupa_id, "updated-at": command.coupa_version},
        state,
        command.job_id,
        command.model_dump(mode="json"),
    )
    return int(record_id)


def our_batches(sim: Sim) -> dict[str, Any]:  # noqa: F811 - not the fixture
    """The batches the poster created (the seed has its own posted history)."""
    return {k: b for k, b in sim.state.store.batches.items() if k.startswith("CP")}
