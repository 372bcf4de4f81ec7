"""``connector console``: its user commands write hashes, never passwords; it will not start
without a users file and a session secret."""

from __future__ import annotations

import io
import stat

import pytest

from services.cli.main import main
from services.console.users import Role, User, load_users, verify_password


@pytest.fixture
def typed(monkeypatch):
    def type_in(text: str) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO(text + "\n"))

    return type_in


def test_hash_password_prints_a_hash_of_what_was_typed(typed, capsys):
    typed("a long enough password")
    assert main(["console", "hash-password"]) == 0
    printed = capsys.readouterr().out.strip()
    assert "a long enough password" not in printed
    assert verify_password(User("x", Role.VIEWER, printed), "a long enough password")


def test_a_short_password_is_refused(typed, capsys):
    typed("short")
    assert main(["console", "hash-password"]) == 2
    assert "at least 12 characters" in capsys.readouterr().err


def test_add_user_writes_a_private_file_the_console_reads_and_changes_a_user_in_place(
    typed, tmp_path, capsys
):
    users_file = tmp_path / "users.yaml"
    typed("first password here")
    assert main(["console", "add-user", "otto", "--role", "viewer", "--file", str(users_file)]) == 0
    typed("second password here")
    assert main(["console", "add-user", "ada", "--role", "admin", "--file", str(users_file)]) == 0
    typed("third password here")
    assert (
        main(["console", "add-user", "otto", "--role", "operator", "--file", str(users_file)]) == 0
    )
    out = capsys.readouterr().out
    assert "added otto (viewer)" in out
    assert "changed otto (operator)" in out
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
    assert "password here" not in users_file.read_text()
    users = load_users(users_file)
    assert (users["otto"].role, users["ada"].role) == (Role.OPERATOR, Role.ADMIN)
    assert verify_password(users["otto"], "third password here")


def test_add_user_needs_to_know_the_file(typed, capsys, monkeypatch):
    monkeypatch.delenv("CONNECTOR_CONSOLE__USERS_FILE", raising=False)
    typed("a long enough password")
    assert main(["console", "add-user", "otto", "--role", "viewer"]) == 2
    assert "CONNECTOR_CONSOLE__USERS_FILE" in capsys.readouterr().err


def test_the_console_will_not_start_without_users_or_a_strong_session_secret(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("CONNECTOR_CONSOLE__USERS_FILE", raising=False)
    monkeypatch.delenv("CONNECTOR_CONSOLE__SESSION_SECRET", raising=False)
    assert main(["console"]) == 2
    assert "set CONNECTOR_CONSOLE__USERS_FILE" in capsys.readouterr().err

    monkeypatch.setenv("CONNECTOR_CONSOLE__USERS_FILE", str(tmp_path / "users.yaml"))
    monkeypatch.setenv("CONNECTOR_CONSOLE__SESSION_SECRET", "too short")
    assert main(["console"]) == 2
    assert "CONNECTOR_CONSOLE__SESSION_SECRET to a random secret" in capsys.readouterr().err

    monkeypatch.setenv("CONNECTOR_CONSOLE__SESSION_SECRET", "x" * 40)
    assert main(["console"]) == 2
    assert "cannot read the users file" in capsys.readouterr().err
