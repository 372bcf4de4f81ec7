"""Progress is drawn on stderr only for a person at a terminal; elsewhere nothing is written."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from services.cli.main import build_parser
from services.cli.progress import Step, progress

STEPS = [Step("suppliers", "reading Coupa suppliers"), Step("records", "replaying", total=2)]


class Terminal(io.StringIO):
    """What a terminal on stderr looks like to the command."""

    def isatty(self) -> bool:
        return True


def _counted(stream: io.StringIO, *, quiet: bool = False) -> str:
    # force_terminal as FORCE_COLOR or TTY_COMPATIBLE would: the stream alone must decide.
    console = Console(file=stream, force_terminal=True, width=100)
    with progress(STEPS, quiet=quiet, console=console) as tell:
        for _ in range(3):
            tell("suppliers", 1)
        tell("records", 2)
    return stream.getvalue()


def test_on_a_terminal_each_step_is_counted():
    shown = _counted(Terminal())
    assert "reading Coupa suppliers" in shown
    assert "3/?" in shown
    assert "replaying" in shown
    assert "2/2" in shown


@pytest.mark.parametrize(
    ("stream", "quiet"), [(io.StringIO(), False), (Terminal(), True)], ids=["no-tty", "quiet"]
)
def test_in_a_pipe_or_when_quiet_nothing_is_written(stream, quiet):
    assert _counted(stream, quiet=quiet) == ""


@pytest.mark.parametrize(
    "argv", [["vendors", "sync", "acme"], ["replay", "--state", "failed"], ["preview", "acme"]]
)
def test_every_long_command_can_be_told_to_draw_nothing(argv):
    parser = build_parser()
    assert parser.parse_args([*argv, "--quiet"]).quiet
    assert not parser.parse_args(argv).quiet
