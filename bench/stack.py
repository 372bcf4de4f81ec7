"""The local stack for benchmarks: the same processes ``connector demo`` runs, on free ports."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from services.cli.sim_setup import prepare_sim_connection
from services.cli.stack import Stack
from shared.embedded.process import free_port
from shared.settings import Settings

_PORTS = ("ingest", "mapper", "poster", "coupa_sim", "deltek_sim", "postgres", "broker")


@contextmanager
def running_stack() -> Iterator[Stack]:
    """A started stack with the simulators' connection aligned; stopped and deleted after."""
    folder = tempfile.mkdtemp(prefix="connector-bench-")
    args = argparse.Namespace(**{f"{name}_port": free_port() for name in _PORTS})
    settings = Settings(state_dir=folder, database_url=None, kafka_bootstrap=None, master_key=None)
    stack = Stack(args, settings, sims=True)
    try:
        stack.start()
        prepare_sim_connection(stack, poll_interval_seconds=3)
        yield stack
    finally:
        stack.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
