"""``connector ... | head``: when the reader of stdout goes away early the command ends quietly,
with 141 (128 + SIGPIPE) like other tools, and no traceback or "Exception ignored" on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
NOISE = (b"Traceback", b"BrokenPipeError", b"Exception ignored")
# Buffered, the broken pipe shows at the flush at the end; unbuffered, at the first print.
BUFFERING = pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "unbuffered"])


def _env(unbuffered: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    return {**env, "PYTHONUNBUFFERED": unbuffered} if unbuffered else env


@BUFFERING
def test_a_reader_that_stops_early_ends_the_command_quietly(unbuffered):
    """stdout's reader closes before the child writes (it takes far longer to import)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "keys", "generate"],
        cwd=ROOT,
        env=_env(unbuffered),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    err = child.stderr.read()
    assert child.wait(timeout=60) == 141
    for noise in NOISE:
        assert noise not in err


@BUFFERING
def test_in_a_shell_pipeline_into_a_reader_gone_early(unbuffered):
    """``true`` reads nothing and exits at once, long before the command has written."""
    pipeline = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{sys.executable} -m services.cli keys generate | true"],
        cwd=ROOT,
        env=_env(unbuffered),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert pipeline.returncode == 141
    for noise in NOISE:
        assert noise not in pipeline.stderr
