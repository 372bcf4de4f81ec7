"""``connector reconcile`` end to end through the parser: a stored connection pointed at both
simulators, a report on stdout, the CSV, a stored run; ``--all`` covers two periods."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from services.cli.main import main
from services.cli.reconcile.report import CSV_COLUMNS
from services.cli.reconcile_cmd import current_and_previous
from shared.secrets import generate_key
from tests.integration.connections.conftest import ENV, StartSims, write_file
from tests.integration.connections.test_cli import connector

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", db_url)
    monkeypatch.setenv("CONNECTOR_MASTER_KEY", generate_key())
    monkeypatch.setenv("CONNECTOR_STATE_DIR", str(tmp_path / "state"))
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


async def test_a_period_is_reported_written_and_stored(
    cli_env: None, start_sims: StartSims, tmp_path: Path, db, capsys: pytest.CaptureFixture[str]
) -> None:
    sims = await start_sims()
    assert await connector("connections", "apply", str(write_file(tmp_path / "c.yaml", sims))) == 0
    capsys.readouterr()
    now = datetime.now(UTC)
    out = tmp_path / "acme.csv"

    code = await connector("reconcile", "acme", "--period", f"{now:%Y-%m}", "--csv", str(out))

    printed = capsys.readouterr().out
    assert code == 0
    assert f"reconcile: acme {now:%Y-%m} (open): " in printed
    assert "totals per class" in printed
    with out.open() as written:
        rows = list(csv.reader(written))
    assert tuple(rows[0]) == CSV_COLUMNS
    runs = await db.fetch("SELECT period, period_closed FROM reconciliation_runs")
    period = now.year * 100 + now.month
    assert [(r["period"], r["period_closed"]) for r in runs] == [(period, False)]


async def test_all_reconciles_the_current_and_previous_period_of_every_connection(
    cli_env: None, start_sims: StartSims, tmp_path: Path, db
) -> None:
    sims = await start_sims()
    assert await connector("connections", "apply", str(write_file(tmp_path / "c.yaml", sims))) == 0

    assert await connector("reconcile", "--all", "--quiet") == 0

    periods = await db.fetch("SELECT connection, period FROM reconciliation_runs ORDER BY period")
    expected = current_and_previous(datetime.now(UTC))
    assert [(r["connection"], r["period"]) for r in periods] == [("acme", p) for p in expected]


async def test_all_leaves_out_a_connection_with_reconcile_disabled(
    cli_env: None, start_sims: StartSims, tmp_path: Path, db
) -> None:
    sims = await start_sims()
    beta = write_file(tmp_path / "beta.yaml", sims, name="beta")
    data = yaml.safe_load(beta.read_text())
    data["connections"][0]["reconcile"] = {"enabled": False}
    beta.write_text(yaml.safe_dump(data))
    for path in (write_file(tmp_path / "acme.yaml", sims), beta):
        assert await connector("connections", "apply", str(path)) == 0

    assert await connector("reconcile", "--all", "--quiet") == 0
    runs = await db.fetch("SELECT DISTINCT connection FROM reconciliation_runs")
    assert [r["connection"] for r in runs] == ["acme"]
    # Named, it is reconciled all the same: the setting is about the scheduled run only.
    assert await connector("reconcile", "beta", "--quiet") == 0
    runs = await db.fetch("SELECT DISTINCT connection FROM reconciliation_runs ORDER BY 1")
    assert [r["connection"] for r in runs] == ["acme", "beta"]


@pytest.mark.parametrize(
    "argv", [("reconcile",), ("reconcile", "acme", "--all"), ("reconcile", "--all", "--csv", "x")]
)
def test_one_connection_or_all(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(list(argv)) == 2
    assert "name one connection" in capsys.readouterr().err


def test_a_period_is_a_month() -> None:
    with pytest.raises(SystemExit):
        main(["reconcile", "acme", "--period", "2026-13"])


def test_january_reaches_back_into_last_year() -> None:
    assert current_and_previous(datetime(2027, 1, 5, tzinfo=UTC)) == [202612, 202701]
    assert current_and_previous(datetime(2026, 12, 1, tzinfo=UTC)) == [202611, 202612]
