"""A real command, or a service started by hand, in a dev stack's folder without
``CONNECTOR_MASTER_KEY`` opens secrets with the stack's key file, found the way its database is
(``.connector/stack.json``)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from services.cli.dev_key import dev_key_path
from services.cli.main import main
from shared.embedded.process import free_port
from shared.endpoints import Endpoints, write_stack
from shared.secrets import MasterKey, generate_key, private_file
from shared.settings import Settings
from tests.support import eventually

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]


async def test_keys_rotate_in_a_dev_folder_uses_the_dev_key(db_url, tmp_path, monkeypatch, capsys):
    for name in ("CONNECTOR_MASTER_KEY", "CONNECTOR_DATABASE_URL", "CONNECTOR_KAFKA_BOOTSTRAP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CONNECTOR_STATE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    write_stack(settings, Endpoints(db_url, "127.0.0.1:1"), os.getpid())
    key_id = MasterKey.parse(private_file(dev_key_path(settings), generate_key), source="t").key_id

    assert await asyncio.to_thread(main, ["keys", "rotate"]) == 0

    out, err = capsys.readouterr()
    assert f"already under key {key_id}" in out
    assert "using the dev stack's key from " + str(tmp_path / ".connector" / "master.key") in err


async def test_a_service_started_by_hand_in_a_dev_folder_gets_the_dev_key(
    db_url, kafka_bootstrap, topics, tmp_path
):
    """The poster opens the connections store at start: without a key it would stop there."""
    settings = Settings(state_dir=str(tmp_path / ".connector"))
    write_stack(settings, Endpoints(db_url, kafka_bootstrap), os.getpid())
    private_file(dev_key_path(settings), generate_key)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env |= {
        "CONNECTOR_STATE_DIR": settings.state_dir,
        "CONNECTOR_ADMIN_PORT": "0",
        "CONNECTOR_KAFKA__TOPIC_PREFIX": topics.prefix,
    }
    stderr = tmp_path / "poster.err"
    with stderr.open("wb") as err:
        poster = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "services.cli", "poster", "--port", str(port)),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:

        async def healthy() -> bool:
            assert poster.returncode is None, stderr.read_text()
            url = f"http://127.0.0.1:{port}/healthz"
            try:
                async with aiohttp.ClientSession() as http, http.get(url) as answer:
                    return answer.status == 200
            except aiohttp.ClientConnectionError:
                return False

        await eventually(healthy, within=60, what="the poster answering /healthz")
    finally:
        poster.terminate()
        await asyncio.wait_for(poster.wait(), 60)
    assert (
        "connector poster: CONNECTOR_MASTER_KEY is not set; using the dev stack's key from "
        f"{dev_key_path(settings).resolve()}"
    ) in stderr.read_text().splitlines()
