"""Progress of long commands (vendor sync, replay, preview), drawn on stderr for a person only.

A command that reads thousands of Coupa objects or re-sends thousands of records is otherwise
silent for minutes. The display is ``rich.progress``, on stderr and transient, so stdout and
what the terminal keeps afterwards are the command's own lines. It is drawn only when stderr is
a terminal and ``--quiet`` was not given: scripts, pipes, logs and tests see the same output as
without it. Commands report through a ``Tell`` whether or not anything is drawn.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

# Told as work gets done: ``tell("suppliers", 1)`` after each supplier read.
Tell = Callable[[str, int], None]


@dataclass(frozen=True)
class Step:
    """One line of the display: what is counted and, when known beforehand, how many."""

    name: str
    description: str
    total: int | None = None


def add_quiet_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="draw no progress on stderr (it is drawn only on a terminal anyway)",
    )


@contextmanager
def progress(
    steps: Sequence[Step], *, quiet: bool, console: Console | None = None
) -> Iterator[Tell]:
    """A ``tell(step, n)`` that counts ``n`` more items of ``step``, drawn where it helps."""
    console = console or Console(stderr=True)
    # The stream itself decides: rich may take FORCE_COLOR and the like for a terminal.
    if quiet or not console.file.isatty():
        yield _ignore
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as shown:
        tasks = {step.name: shown.add_task(step.description, total=step.total) for step in steps}

        def tell(step: str, n: int) -> None:
            shown.advance(tasks[step], n)

        yield tell


def _ignore(step: str, n: int) -> None:
    """Nothing is drawn: the count goes nowhere."""
