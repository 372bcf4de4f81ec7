"""``connector dev`` a second time, or beside something else: a taken port is named before
anything starts, and the Coupa simulator's new ids go above those the database already holds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from devstack.supervisor import SIM_CONNECTION, highest_coupa_id
from shared.embedded.process import free_port

pytestmark = pytest.mark.integration
PORT_FLAGS = ("ingest", "mapper", "poster", "coupa-sim", "deltek-sim", "postgres", "broker")


def test_a_taken_port_is_named_with_its_flag_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        console_port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "services.cli", "dev", f"--console-port={console_port}"]
        argv += [f"--{name}-port={free_port()}" for name in PORT_FLAGS]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
        done = subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        f"dev: port {console_port} (console) is in use; choose another with --console-port"
        in done.stderr
    )
    # Nothing was started, so nothing stopped either: no database made, no child's log.
    assert done.stdout == ""
    assert not (tmp_path / ".connector" / "pgdata").exists()
    assert not (tmp_path / ".connector" / "logs").exists()


async def test_the_highest_coupa_id_counts_records_and_purchase_orders_of_the_sims(db_url):
    assert await highest_coupa_id(db_url) == 0
    conn = await asyncpg.connect(db_url)
    try:
        for connection, kind, coupa_id in (
            (SIM_CONNECTION, "invoice", "48123"),
            (SIM_CONNECTION, "supplier", "215"),
            ("acme", "invoice", "99999"),  # another connection's ids are not the simulator's
        ):
            await conn.execute(
                """INSERT INTO records (record_key, connection, kind, coupa_id, version, payload)
                   VALUES ($1, $2, $3, $4, '2026-01-01T00:00:00Z', '{}')""",
                f"{connection}:{kind}:{coupa_id}",
                connection,
                kind,
                coupa_id,
            )
        assert await highest_coupa_id(db_url) == 48123
        await conn.execute(
            """INSERT INTO coupa_purchase_orders
                   (connection, po_id, po_number, version, updated_at, body)
               VALUES ($1, 50001, '50001', 'v', now(), '{}')""",
            SIM_CONNECTION,
        )
        assert await highest_coupa_id(db_url) == 50001
    finally:
        await conn.close()
