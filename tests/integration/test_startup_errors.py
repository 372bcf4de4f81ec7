"""A service that cannot start says why in one plain line on stderr, naming the setting that fixes
it, and exits 2 without a traceback: no master key, no broker, no database, a port in use; so do
``connector migrate`` and ``connector topics`` without their database or broker."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.embedded.process import free_port
from shared.secrets import generate_key

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something else already listens on."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


async def run(argv: list[str], env: dict[str, str], state_dir: Path) -> tuple[int, str]:
    """Run ``connector argv`` with only ``env`` as settings; its exit code and the one line on
    stderr that is neither a JSON log line nor aiokafka's reason (asserted to be the only one)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    settings = {"CONNECTOR_STATE_DIR": str(state_dir), "CONNECTOR_ADMIN_PORT": "0", **env}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", *argv],
        cwd=ROOT,
        env={**inherited, **settings},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""
    plain = [
        line for line in done.stderr.splitlines() if not line.startswith(("{", "Unable connect to"))
    ]
    assert len(plain) == 1, done.stderr
    return done.returncode, plain[0]


async def start(
    service: str, env: dict[str, str], state_dir: Path, port: int | None = None
) -> tuple[int, str]:
    return await run([service, "--port", str(port or free_port())], env, state_dir)


@pytest.mark.parametrize("service", ["ingest", "poster"])
async def test_no_master_key(service, db_url, kafka_bootstrap, tmp_path):
    env = {"CONNECTOR_DATABASE_URL": db_url, "CONNECTOR_KAFKA_BOOTSTRAP": kafka_bootstrap}
    code, line = await start(service, env, tmp_path)
    assert code == 2
    assert line.startswith(f"connector {service}: CONNECTOR_MASTER_KEY is not set; ")


async def test_no_broker_answers(db_url, tmp_path):
    nowhere = f"127.0.0.1:{free_port()}"
    env = {
        "CONNECTOR_DATABASE_URL": db_url,
        "CONNECTOR_KAFKA_BOOTSTRAP": nowhere,
        "CONNECTOR_MASTER_KEY": generate_key(),
    }
    code, line = await start("ingest", env, tmp_path)
    assert code == 2
    assert line == (
        f"connector ingest: cannot reach a Kafka broker at {nowhere}; set "
        "CONNECTOR_KAFKA_BOOTSTRAP to brokers that answer"
    )


@pytest.mark.parametrize("service", ["mapper", "poster"])
async def test_no_database_answers(service, kafka_bootstrap, tmp_path):
    nowhere = f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/connector"
    env = {
        "CONNECTOR_DATABASE_URL": nowhere,
        "CONNECTOR_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CONNECTOR_MASTER_KEY": generate_key(),
    }
    code, line = await start(service, env, tmp_path)
    assert code == 2
    assert line.startswith(f"connector {service}: cannot reach PostgreSQL at postgresql://")
    assert "ConnectionRefusedError" in line
    assert line.endswith("; set CONNECTOR_DATABASE_URL to a database that answers")
    assert "s3cret-pw" not in line


async def test_the_http_port_is_in_use(db_url, kafka_bootstrap, taken_port, tmp_path):
    env = {"CONNECTOR_DATABASE_URL": db_url, "CONNECTOR_KAFKA_BOOTSTRAP": kafka_bootstrap}
    code, line = await start("mapper", env, tmp_path, port=taken_port)
    assert code == 2
    assert line == (
        f"connector mapper: port {taken_port} on 127.0.0.1 is in use; choose another with "
        "--port or CONNECTOR_HTTP_PORT"
    )


async def test_the_admin_port_is_in_use(db_url, kafka_bootstrap, taken_port, tmp_path):
    env = {
        "CONNECTOR_DATABASE_URL": db_url,
        "CONNECTOR_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CONNECTOR_ADMIN_PORT": str(taken_port),
    }
    code, line = await start("mapper", env, tmp_path)
    assert code == 2
    assert line == (
        f"connector mapper: the admin port {taken_port} on 127.0.0.1 (/metrics) is in use; "
        "set CONNECTOR_ADMIN_PORT to a free port, or 0 for any"
    )


async def test_topics_without_a_broker(tmp_path):
    nowhere = f"127.0.0.1:{free_port()}"
    env = {"CONNECTOR_DATABASE_URL": "postgresql://unused/x", "CONNECTOR_KAFKA_BOOTSTRAP": nowhere}
    code, line = await run(["topics"], env, tmp_path)
    assert code == 2
    assert line == (
        f"connector topics: cannot reach a Kafka broker at {nowhere}; set "
        "CONNECTOR_KAFKA_BOOTSTRAP to brokers that answer"
    )


async def test_migrate_without_a_database(tmp_path):
    nowhere = f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/connector"
    code, line = await run(["migrate"], {"CONNECTOR_DATABASE_URL": nowhere}, tmp_path)
    assert code == 2
    assert line.startswith(
        "connector migrate: cannot reach PostgreSQL at postgresql://postgres:***@"
    )
    assert line.endswith("; set CONNECTOR_DATABASE_URL to a database that answers")
