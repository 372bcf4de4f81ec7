"""Session-wide real servers (embedded Postgres, Tansu broker), and per-test isolation on them.

Each server starts once per session and only if a test asks for it. Every test then gets its
own database (a copy of a migrated template) and its own topic prefix, so tests never see each
other's rows or messages. ``CONNECTOR_TEST_DATABASE_URL`` / ``CONNECTOR_TEST_KAFKA_BOOTSTRAP``
point the suite at real servers instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from shared.db.migrate import migrate
from shared.embedded.broker import EmbeddedBroker
from shared.embedded.postgres import EmbeddedPostgres
from shared.embedded.process import free_port
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics, ensure_topics
from shared.settings import ConsumerTuning, KafkaTuning

TEST_PARTITIONS = 3


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """URL of a database on a server where tests may create and drop databases.

    The data lives in a folder of its own, not in pytest's numbered temp folders, which a second
    pytest run on the same machine may prune while this one still uses them.
    """
    external = os.environ.get("CONNECTOR_TEST_DATABASE_URL")
    if external:
        yield external
        return
    folder = Path(tempfile.mkdtemp(prefix="connector-test-pg-"))
    server = EmbeddedPostgres(folder / "pgdata", free_port(), durable=False)
    try:
        server.start()
        yield server.admin_url
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> str:
    """A database with every migration applied, copied for each test (fast: a file copy)."""
    name = f"connector_tpl_{uuid.uuid4().hex[:8]}"

    async def build() -> None:
        await _admin(pg_admin_url, f"CREATE DATABASE {name}")
        conn = await asyncpg.connect(_with_database(pg_admin_url, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(build())
    return name


@pytest.fixture
async def db_url(pg_admin_url: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database of this test's own."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    await _admin(pg_admin_url, f"CREATE DATABASE {name} TEMPLATE {template_db}")
    yield _with_database(pg_admin_url, name)
    await _admin(pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def empty_db_url(pg_admin_url: str) -> AsyncIterator[str]:
    """A fresh database with no schema at all, for migration tests."""
    name = f"e_{uuid.uuid4().hex[:12]}"
    await _admin(pg_admin_url, f"CREATE DATABASE {name}")
    yield _with_database(pg_admin_url, name)
    await _admin(pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("CONNECTOR_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    log = Path(tmp_path_factory.mktemp("broker")) / "broker.log"
    broker = EmbeddedBroker(free_port(), log_path=log)
    broker.start()
    yield broker.bootstrap
    broker.stop()


@pytest.fixture
def kafka_tuning() -> KafkaTuning:
    """Short group timeouts so a restarted consumer rejoins within seconds."""
    return KafkaTuning(
        partitions=TEST_PARTITIONS,
        session_timeout_ms=3_000,
        heartbeat_interval_ms=300,
        max_poll_interval_ms=10_000,
    )


@pytest.fixture
def consumer_tuning() -> ConsumerTuning:
    return ConsumerTuning(max_attempts=3, backoff_initial_seconds=0.01, backoff_max_seconds=0.05)


@pytest.fixture
async def topics(kafka_bootstrap: str, kafka_tuning: KafkaTuning) -> Topics:
    """This test's own pipeline topics, created on the broker."""
    names = Topics(prefix=f"t{uuid.uuid4().hex[:10]}.")
    await ensure_topics(
        kafka_bootstrap, names.all(), partitions=kafka_tuning.partitions, replication_factor=1
    )
    return names


@pytest.fixture
async def publisher(kafka_bootstrap: str, kafka_tuning: KafkaTuning) -> AsyncIterator[Publisher]:
    """A started producer on the test broker."""
    pub = Publisher(kafka_bootstrap, kafka_tuning)
    await pub.start()
    yield pub
    await pub.stop()
