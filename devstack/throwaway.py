"""A stack in a temporary folder on free ports, its simulators' connection stored and aligned:
what the demo, the chaos run, the benchmarks and the end-to-end tests all run on."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from devstack import supervisor as local
from devstack.sim_setup import prepare_sim_connection
from shared.connection_settings import Mode
from shared.embedded.process import free_port
from shared.settings import Settings

PORTS = ("ingest", "mapper", "poster", "coupa_sim", "deltek_sim", "postgres", "broker")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every port flag, defaulting to a free port instead of the ``dev`` defaults; ``--keep``."""
    local.add_arguments(parser, free_ports=True)
    parser.add_argument(
        "--keep", action="store_true", help="keep the run's folder (data and logs) afterwards"
    )


@contextmanager
def throwaway_stack(
    args: argparse.Namespace | None = None,
    *,
    label: str,
    poll_interval_seconds: float = 3,
    create_vendors: bool = False,
    mode: Mode = "live",
    signals: bool = False,
) -> Iterator[local.Stack]:
    """Start it, yield it, stop it and delete its folder (unless ``args.keep``).

    With ``signals`` a Ctrl-C or SIGTERM raises ``StopRequested`` in the caller, after which
    everything started is still stopped.
    """
    args = args or argparse.Namespace()
    for name in PORTS:
        if getattr(args, f"{name}_port", None) is None:
            setattr(args, f"{name}_port", free_port())
    folder = tempfile.mkdtemp(prefix=f"connector-{label}-")
    settings = Settings(state_dir=folder, database_url=None, kafka_bootstrap=None, master_key=None)
    stack = local.Stack(args, settings, sims=True)
    if signals:
        stack.install_signal_handlers()
    try:
        stack.start()
        prepare_sim_connection(
            stack,
            poll_interval_seconds=poll_interval_seconds,
            create_vendors=create_vendors,
            mode=mode,
        )
        yield stack
    finally:
        stack.shutdown()
        if getattr(args, "keep", False):
            print(f"{label} folder kept: {folder}", flush=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)
