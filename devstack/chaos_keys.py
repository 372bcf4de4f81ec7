"""The chaos run's key rotation: ``connector keys rotate`` in the middle of the load.

The rotation goes the way the README tells operators to do it: every service (each poster
instance too, or one would be left unable to open the re-sealed secrets) is restarted with
the new key as ``CONNECTOR_MASTER_KEY`` and the old one as ``CONNECTOR_MASTER_KEY_PREVIOUS``
(one at a time, the supervisor bringing each back), then every secret is re-sealed. Afterwards
the check opens every stored secret with the new key alone.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass

import asyncpg

from devstack.supervisor import Stack
from shared.connections.rotation import Rotation, rotate_keys
from shared.connections.store import load_connection
from shared.db.pool import init_connection
from shared.outages import LOOP_SETBACKS
from shared.secrets import KeyRing, MasterKey, SecretsError, generate_key

# How long the mid-run rotation keeps trying while the schedule has Postgres down.
_ROTATION_PATIENCE = 120.0


@dataclass(frozen=True)
class RotationOutcome:
    key_id: str
    resealed: int
    only_new_key: bool

    def line(self) -> str:
        verdict = "yes" if self.only_new_key else "NO"
        return (
            f"  key rotation: {self.resealed} stored secret(s), now under key {self.key_id}; "
            f"every secret readable under the new key alone: {verdict}"
        )


async def rotate_during_run(stack: Stack) -> str:
    """Roll the services onto a new key, then re-seal every secret under it; return its id."""
    assert stack.endpoints is not None
    old, new = stack.master_key, generate_key()
    services = stack.services()
    for child in services:
        child.env = {
            **child.env,
            "CONNECTOR_MASTER_KEY": new,
            "CONNECTOR_MASTER_KEY_PREVIOUS": old,
        }
        if child.proc is not None and child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(1.5)
    stack.master_key = new
    ring = KeyRing(MasterKey.parse(new, source="new key"), (MasterKey.parse(old, source="old"),))
    done = await _rotate_through_outages(stack.endpoints.database_url, ring)
    names = ", ".join(child.name for child in services)
    print(f"keys rotated onto {done.key_id} mid-run (restarted one by one: {names})", flush=True)
    return done.key_id


async def _rotate_through_outages(url: str, ring: KeyRing) -> Rotation:
    """``keys rotate`` as an operator would run it again when Postgres dies under it (the
    schedule kills it too): each connection is re-sealed in its own transaction, so a second
    run only finishes what the first did not."""
    deadline = time.monotonic() + _ROTATION_PATIENCE
    while True:
        try:
            conn = await asyncpg.connect(url)
            try:
                await init_connection(conn)
                return await rotate_keys(conn, ring)
            finally:
                conn.terminate()
        except LOOP_SETBACKS:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def check_rotation(stack: Stack, key_id: str) -> RotationOutcome:
    """Whether every stored secret is under ``key_id`` and opens with the new key alone."""
    assert stack.endpoints is not None
    only_new = KeyRing(MasterKey.parse(stack.master_key, source="new key"))
    conn = await asyncpg.connect(stack.endpoints.database_url)
    await init_connection(conn)
    try:
        ids = {row["key_id"] for row in await conn.fetch("SELECT key_id FROM credentials")}
        count = await conn.fetchval("SELECT count(*) FROM credentials")
        names = [row["name"] for row in await conn.fetch("SELECT name FROM connections")]
        try:
            for name in names:
                await load_connection(conn, only_new, name)
            readable = True
        except SecretsError:
            readable = False
    finally:
        await conn.close()
    return RotationOutcome(key_id, int(count), ids == {key_id} and readable)
