"""In the folder of a running ``connector dev``, commands that open secrets use its key file, as
they use its endpoints; never when a key is set, another database is named or no stack runs."""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr

from services.cli.dev_key import dev_key_path, key_ring
from shared.endpoints import Endpoints, write_stack
from shared.secrets import MasterKey, MasterKeyMissingError, generate_key, private_file
from shared.settings import Settings

STACK_DB = "postgresql://postgres@127.0.0.1:15432/connector"


@pytest.fixture
def dev_folder(tmp_path, monkeypatch) -> Settings:
    """A state folder with a live stack (this process stands in for its supervisor) and a key."""
    for name in ("CONNECTOR_MASTER_KEY", "CONNECTOR_DATABASE_URL", "CONNECTOR_KAFKA_BOOTSTRAP"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(state_dir=str(tmp_path / ".connector"))
    write_stack(settings, Endpoints(STACK_DB, "127.0.0.1:19092"), os.getpid())
    private_file(dev_key_path(settings), generate_key)
    return settings


def _key_id(settings: Settings) -> str:
    return MasterKey.parse(dev_key_path(settings).read_text(), source="dev key").key_id


def test_without_a_key_the_dev_stacks_key_is_used_and_named_on_stderr(dev_folder, capsys):
    ring = key_ring(dev_folder, "keys rotate")
    assert ring.current.key_id == _key_id(dev_folder)
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "connector keys rotate: CONNECTOR_MASTER_KEY is not set; using the dev stack's key "
        f"from {dev_key_path(dev_folder).resolve()}"
    ]


def test_an_explicit_key_always_wins(dev_folder, capsys):
    explicit = generate_key()
    settings = dev_folder.model_copy(update={"master_key": SecretStr(explicit)})
    ring = key_ring(settings, "preview")
    assert ring.current.key_id == MasterKey.parse(explicit, source="test").key_id
    assert capsys.readouterr().err == ""


def test_a_command_aimed_at_another_database_does_not_take_the_dev_key(dev_folder, capsys):
    elsewhere = dev_folder.model_copy(
        update={"database_url": SecretStr("postgresql://app@db.example.com/connector")}
    )
    with pytest.raises(MasterKeyMissingError):
        key_ring(elsewhere, "connections apply")
    assert capsys.readouterr().err == ""


def test_a_key_file_without_a_running_stack_is_not_used(dev_folder, capsys):
    (dev_key_path(dev_folder).parent / "stack.json").unlink()
    with pytest.raises(MasterKeyMissingError):
        key_ring(dev_folder, "vendors sync")
    assert capsys.readouterr().err == ""


def test_a_running_stack_started_with_its_own_key_has_no_file_to_offer(dev_folder, capsys):
    dev_key_path(dev_folder).unlink()
    with pytest.raises(MasterKeyMissingError):
        key_ring(dev_folder, "preview")
    assert capsys.readouterr().err == ""
