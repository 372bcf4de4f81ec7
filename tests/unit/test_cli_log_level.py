"""Short CLI commands log warnings only unless asked; services keep logging at INFO."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator

import pytest

from services.cli import main as cli
from services.cli import reconcile_cmd
from shared.logs import configure_logging
from shared.settings import Settings


@pytest.fixture(autouse=True)
def root_logger_restored() -> Iterator[None]:
    """``configure_logging`` replaces the root handlers: give them back to pytest afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def no_level_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cli.LOG_LEVEL_VARIABLE, raising=False)


def logs_as_a_command_does(args: argparse.Namespace) -> int:
    """What ``reconcile`` does with logging: its settings' level, then an INFO and a warning."""
    configure_logging(args.command, Settings().log_level)
    logging.getLogger("shared.coupa.client").info("coupa token minted")
    logging.getLogger("shared.coupa.client").warning("coupa answered 429")
    return 0


def run(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    monkeypatch.setattr(reconcile_cmd, "run", logs_as_a_command_does)
    monkeypatch.setattr(cli, "_run_service", logs_as_a_command_does)
    assert cli.main(argv) == 0
    return capsys.readouterr().err


def test_a_short_command_logs_only_warnings_by_default(monkeypatch, capsys):
    err = run(["reconcile", "acme"], monkeypatch, capsys)
    assert "coupa token minted" not in err
    assert "coupa answered 429" in err
    assert cli.LOG_LEVEL_VARIABLE not in os.environ


@pytest.mark.parametrize(
    "argv", [["reconcile", "acme", "-v"], ["reconcile", "--verbose", "acme"], ["-v", "reconcile"]]
)
def test_verbose_before_or_after_the_command_logs_info(argv, monkeypatch, capsys):
    assert "coupa token minted" in run(argv, monkeypatch, capsys)


def test_the_variable_chooses_the_level_and_is_left_as_it_was(monkeypatch, capsys):
    monkeypatch.setenv(cli.LOG_LEVEL_VARIABLE, "INFO")
    assert "coupa token minted" in run(["reconcile", "acme"], monkeypatch, capsys)
    monkeypatch.setenv(cli.LOG_LEVEL_VARIABLE, "ERROR")
    err = run(["reconcile", "acme"], monkeypatch, capsys)
    assert "coupa answered 429" not in err
    assert os.environ[cli.LOG_LEVEL_VARIABLE] == "ERROR"


def test_verbose_outranks_a_quieter_variable(monkeypatch, capsys):
    monkeypatch.setenv(cli.LOG_LEVEL_VARIABLE, "WARNING")
    assert "coupa token minted" in run(["reconcile", "acme", "-v"], monkeypatch, capsys)
    assert os.environ[cli.LOG_LEVEL_VARIABLE] == "WARNING"


def test_a_service_keeps_logging_at_info(monkeypatch, capsys):
    assert "coupa token minted" in run(["poster"], monkeypatch, capsys)
