"""What the production image holds: the services and operations commands, no harness.

The image copies ``shared`` and ``services`` only (Dockerfile); the CLI must still build its
parser there and simply offer no ``dev``, ``demo``, ``chaos`` or ``sim``.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from services.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_with_the_harness_installed_every_command_is_offered():
    commands = _commands(cli.build_parser())
    assert {"dev", "demo", "chaos", "sim", "ingest", "mapper", "poster", "migrate"} <= commands


def test_without_the_harness_the_operations_commands_remain(monkeypatch: pytest.MonkeyPatch):
    real = importlib.util.find_spec

    def missing(name: str, *args: object) -> object:
        return None if name in ("devstack", "simulators") else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", missing)
    commands = _commands(cli.build_parser())
    assert not commands & {"dev", "demo", "chaos", "sim"}
    assert {"ingest", "mapper", "poster", "migrate", "connections", "replay"} <= commands


def test_the_dockerfile_copies_only_what_production_runs():
    copied = [
        line.split()[1]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    ]
    assert {"shared", "services"} <= set(copied)
    assert not {"simulators", "devstack", "bench", "tests", "tools"} & set(copied)


def test_the_services_start_from_a_tree_without_the_harness(tmp_path: Path):
    """Copy shared/ and services/ alone, as the image does, and import every service there."""
    for package in ("shared", "services"):
        subprocess.run(["cp", "-r", str(ROOT / package), str(tmp_path)], check=True)
    # The editable install of this checkout would find the harness anyway: take it away.
    code = (
        "import importlib, sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]\n"
        "for name in ('ingest', 'mapper', 'poster'):\n"
        "    importlib.import_module(f'services.{name}.app')\n"
        "from services.cli.main import build_parser\n"
        "build_parser()\n"
        "assert 'devstack' not in sys.modules and 'simulators' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "PYTHONNOUSERSITE": "1"},
    )
    assert done.returncode == 0, done.stderr
