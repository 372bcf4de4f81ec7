"""The `connector connections` and `connector keys` commands end to end, and the proof that no
secret reaches a log line, stdout, stderr, an error, the settings or an audit row."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import asyncpg
import orjson
import pytest
import yaml

from services.cli import connections_cmd, keys_cmd
from services.cli.main import main
from shared.db.pool import init_connection
from shared.logs import JsonFormatter
from shared.secrets import generate_key
from tests.integration.connections.conftest import ENV, StartSims, write_file

pytestmark = pytest.mark.integration
WRONG_COUPA_SECRET = "wrong-coupa-s3cret-Kx19"
WRONG_DELTEK_PASSWORD = "wrong-deltek-pa55-Mv03"
ALL_SECRETS = [*ENV.values(), WRONG_COUPA_SECRET, WRONG_DELTEK_PASSWORD]


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Let the commands set up their JSON logging, and keep caplog seeing the raw records."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def configure(service: str, level: str = "INFO") -> None:
        handler = logging.StreamHandler()  # stderr at call time: the captured one
        handler.setFormatter(JsonFormatter(service))
        root.handlers[:] = [handler, caplog.handler]
        root.setLevel(logging.DEBUG)

    monkeypatch.setattr(connections_cmd, "configure_logging", configure)
    monkeypatch.setattr(keys_cmd, "configure_logging", configure)
    yield
    root.handlers[:], root.level = saved


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, db_url: str) -> str:
    key = generate_key()
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", db_url)
    monkeypatch.setenv("CONNECTOR_MASTER_KEY", key)
    monkeypatch.delenv("CONNECTOR_MASTER_KEY_PREVIOUS", raising=False)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return key


async def connector(*argv: str) -> int:
    """Run the real console entry point; in a thread, as it runs its own event loop."""
    return await asyncio.to_thread(main, list(argv))


async def test_no_secret_appears_anywhere(
    start_sims: StartSims, tmp_path, cli_env, db_url, logs, capsys, caplog, monkeypatch
):
    good = await start_sims()
    broken = await start_sims(deltek={"password_grant_enabled": False})
    path = write_file(
        tmp_path / "connections.yaml",
        good,
        extra=[
            {
                "name": "broken",
                "coupa": {
                    "base_url": broken.coupa_url,
                    "client_id": "connector",
                    "client_secret": WRONG_COUPA_SECRET,
                    "token_first_use_delay_seconds": 0,
                },
                "deltek": {
                    "base_url": broken.deltek_url,
                    "database": "ACME_PROD",
                    "username": "COUPA_API",
                    "password": WRONG_DELTEK_PASSWORD,
                    "client_id": "coupa-connector",
                    "client_secret_env": "ACME_DELTEK_CLIENT_SECRET",
                },
            }
        ],
    )
    assert await connector("connections", "apply", str(path)) == 0
    assert await connector("connections", "list") == 0
    assert await connector("connections", "show", "acme") == 0
    assert await connector("connections", "test", "acme") == 0
    assert await connector("connections", "test", "broken") == 1
    assert await connector("connections", "show", "nobody") == 2
    monkeypatch.setenv("CONNECTOR_MASTER_KEY_PREVIOUS", cli_env)
    monkeypatch.setenv("CONNECTOR_MASTER_KEY", generate_key())
    assert await connector("keys", "rotate") == 0
    assert await connector("connections", "apply", str(path)) == 0
    out, err = capsys.readouterr()

    conn = await asyncpg.connect(db_url)
    await init_connection(conn)
    try:
        ciphertexts = [
            bytes(r["ciphertext"]) for r in await conn.fetch("SELECT * FROM credentials")
        ]
        stored = orjson.dumps(
            [dict(r) for r in await conn.fetch("SELECT * FROM connections")]
            + [dict(r) for r in await conn.fetch("SELECT * FROM audit_events")],
            default=str,
        ).decode()
    finally:
        await conn.close()

    raw_logs = "\n".join(f"{r.getMessage()} {vars(r)} {r.exc_text or ''}" for r in caplog.records)
    assert len(ciphertexts) == 7
    assert "PROBLEM" in out
    assert "OK" in out
    assert '"level"' in err  # the JSON log lines went to stderr
    assert "needs attention" in raw_logs  # the failing test did log, through both paths
    for secret in ALL_SECRETS:
        assert secret not in out, secret
        assert secret not in err, secret
        assert secret not in raw_logs, secret
        assert secret not in stored, secret
        assert not any(secret.encode() in c for c in ciphertexts), secret


async def test_cli_reports_in_plain_words(start_sims: StartSims, tmp_path, cli_env, logs, capsys):
    sims = await start_sims(deltek={"restricted_role": True})
    path = write_file(tmp_path / "connections.yaml", sims)
    assert await connector("connections", "apply", str(path)) == 0
    out = capsys.readouterr().out
    assert "acme: created" in out
    assert await connector("connections", "test", "acme") == 1
    out = capsys.readouterr().out
    assert "OK       Coupa token" in out
    assert "PROBLEM  Deltek amounts  every project fee reads as zero" in out
    assert "fix: give the API role full field visibility" in out
    assert "ASSUMED  Group by files  vouchers go in as files" in out
    assert "acme: 1 problem(s)" in out
    assert await connector("connections", "show", "acme") == 0
    shown = capsys.readouterr().out
    assert "client_secret: '*** (key " in shown
    assert "password: '*** (key " in shown
    assert "database: ACME_PROD" in shown
    assert await connector("connections", "list") == 0
    assert "4 secrets set" in capsys.readouterr().out


STATUSES = ("OK", "PROBLEM", "ASSUMED", "SKIPPED")
# "  STATUS   Check name      message": the message starts in this column on every line.
MESSAGE_COLUMN = 2 + 8 + 1 + 15 + 1


async def test_cli_tells_checked_facts_from_assumptions_in_aligned_columns(
    start_sims: StartSims, tmp_path, cli_env, logs, capsys
):
    sims = await start_sims()
    path = write_file(tmp_path / "connections.yaml", sims, deltek={"post_batches": True})
    assert await connector("connections", "apply", str(path)) == 0
    capsys.readouterr()
    assert await connector("connections", "test", "acme") == 0
    head, *body, tail = capsys.readouterr().out.splitlines()
    assert head.startswith("acme: Coupa at http://")
    for line in body:
        left, message = line[:MESSAGE_COLUMN], line[MESSAGE_COLUMN:]
        assert message and not message.startswith(" "), line
        status = left[:11].strip()
        if status:
            assert status in STATUSES, line
            assert left == f"  {status:<8} {left[11:26]} ", line
        else:  # a hint, under the message: what to fix, or where to confirm an assumption
            assert left.isspace() and message.startswith(("fix: ", "check: ")), line
    lines = "\n".join(body)
    assert "OK       Bank code       bank code 'OPER' exists" in lines
    assert "OK       Ledger column   the AP ledger (PSALedger/AP) keeps" in lines
    assert "ASSUMED  Voucher numbers Vantagepoint numbers the vouchers" in lines
    assert f"{'':{MESSAGE_COLUMN}}check: confirm the Transaction Center approvals" in lines
    assert "fix:" not in lines
    assert tail == (
        "acme: all checks passed; 4 setting(s) assumed, to confirm in Vantagepoint "
        "(docs/go-live-checklist.md)"
    )


async def test_file_removal_is_reported_and_pruned_on_request(
    start_sims: StartSims, tmp_path, cli_env, logs, capsys
):
    sims = await start_sims()
    two = write_file(tmp_path / "two.yaml", sims, extra=[_named_copy(tmp_path, sims, "beta")])
    one = write_file(tmp_path / "one.yaml", sims)
    assert await connector("connections", "apply", str(two)) == 0
    assert await connector("connections", "apply", str(one)) == 0
    assert "beta: kept, although not in the file" in capsys.readouterr().out
    assert await connector("connections", "apply", "--prune", str(one)) == 0
    assert "beta: deleted" in capsys.readouterr().out


def _named_copy(tmp_path, sims, name: str) -> dict[str, Any]:
    data = yaml.safe_load(write_file(tmp_path / f"{name}.yaml", sims, name=name).read_text())
    return data["connections"][0]


async def test_clear_errors_for_keys_and_files(tmp_path, cli_env, logs, capsys, monkeypatch):
    bad = tmp_path / "bad.yaml"
    bad.write_text("connections:\n  - name: acme\n    coupa: {colour: blue}\n")
    assert await connector("connections", "apply", str(bad)) == 2
    err = capsys.readouterr().err
    assert "connection 'acme': unknown key 'coupa.colour'" in err
    monkeypatch.setenv("CONNECTOR_MASTER_KEY", "short-not-a-key")
    assert await connector("connections", "test", "acme") == 2
    err = capsys.readouterr().err
    assert "CONNECTOR_MASTER_KEY is not a valid master key" in err
    assert "short-not-a-key" not in err
    monkeypatch.delenv("CONNECTOR_MASTER_KEY")
    assert await connector("keys", "rotate") == 2
    assert "CONNECTOR_MASTER_KEY is not set" in capsys.readouterr().err


def test_keys_generate_prints_a_usable_key(capsys, monkeypatch):
    assert main(["keys", "generate"]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert len(key) == 44
    assert "key id" in err
    assert key not in err
