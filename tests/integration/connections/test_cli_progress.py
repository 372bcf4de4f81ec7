"""Long commands count their work item by item for the progress display, and where stderr is no
terminal (here: captured) their output is what it was before there was any progress."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

from services.cli import replay_cmd, vendors_cmd
from services.cli.progress import Step, Tell
from shared.secrets import generate_key
from tests.integration.connections.conftest import ENV, StartSims, write_file
from tests.integration.connections.test_cli import connector
from tests.integration.test_replay_and_audit import seed

pytestmark = pytest.mark.integration


class Recorded:
    """Stands in for ``progress``: keeps the steps announced and every count told."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.told: list[tuple[str, int]] = []

    @contextmanager
    def __call__(self, steps: Sequence[Step], *, quiet: bool) -> Iterator[Tell]:
        self.steps += steps
        yield lambda step, n: self.told.append((step, n))


@pytest.fixture
def cli_env(monkeypatch, db_url, kafka_bootstrap, topics, tmp_path) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", db_url)
    monkeypatch.setenv("CONNECTOR_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("CONNECTOR_KAFKA__TOPIC_PREFIX", topics.prefix)
    monkeypatch.setenv("CONNECTOR_MASTER_KEY", generate_key())
    monkeypatch.setenv("CONNECTOR_STATE_DIR", str(tmp_path / "state"))
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


async def test_replay_counts_each_record_it_sends(cli_env, db_url, monkeypatch, capsys):
    await seed(db_url)
    recorded = Recorded()
    monkeypatch.setattr(replay_cmd, "progress", recorded)
    assert await connector("replay", "--state", "unfinished") == 0
    assert recorded.steps == [Step("records", "replaying records", 2)]
    assert recorded.told == [("records", 1), ("records", 1)]


async def test_replay_output_off_a_terminal_is_the_plain_lines(cli_env, db_url, topics, capsys):
    await seed(db_url)
    assert await connector("replay", "--state", "unfinished") == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"sending InvoiceApproved for acme:invoice:1 (received) to {topics.coupa_invoices}",
        f"sending PostApInvoice for acme:invoice:2 (mapped) to {topics.deltek_writes}",
        "replayed 2 record(s)",
    ]
    assert err == ""


async def test_vendors_sync_counts_each_supplier_read(
    start_sims: StartSims, cli_env, tmp_path, monkeypatch, capsys
):
    sims = await start_sims()
    path = write_file(tmp_path / "c.yaml", sims, mapping={"create_vendors": True})
    assert await connector("connections", "apply", str(path)) == 0
    capsys.readouterr()
    recorded = Recorded()
    monkeypatch.setattr(vendors_cmd, "progress", recorded)

    assert await connector("vendors", "sync", "acme") == 0

    out, err = capsys.readouterr()
    suppliers = int(out.split(": ", 1)[1].split(" ", 1)[0])
    assert suppliers > 0
    assert out.splitlines() == [
        f"acme: {suppliers} Coupa suppliers; {suppliers} new or changed sent on, 0 stored but "
        "not yet in Deltek sent again, 0 already received"
    ]
    assert recorded.steps == [Step("suppliers", "reading Coupa suppliers")]
    assert recorded.told == [("suppliers", 1)] * suppliers
    assert "reading Coupa" not in err and "\x1b[" not in err
