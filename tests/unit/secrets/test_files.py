"""Secret files (the dev master key, the simulators' Call Out secret) are the owner's alone from
the moment they exist, not only once a chmod after the write has run."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.supervisor import secret_file
from shared.secrets import MasterKey, private_file
from shared.settings import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The usual umask, under which a plain write makes a file others can read."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.mark.usefixtures("permissive_umask")
def test_the_dev_master_key_is_created_0600_without_a_chmod(tmp_path, monkeypatch):
    # Without chmod the file has the mode it was created with: what another user could open
    # between a write and a later chmod (or forever, had the process died in between).
    monkeypatch.setattr(os, "chmod", lambda *_args, **_kwargs: None)
    monkeypatch.setattr(Path, "chmod", lambda *_args, **_kwargs: None)
    key = secret_file(Settings(state_dir=str(tmp_path)), "master.key")
    assert mode(tmp_path / "master.key") == 0o600
    MasterKey.parse(key, source="test")
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"], "no temporary file left"


@pytest.mark.usefixtures("permissive_umask")
def test_the_secret_is_made_once_and_then_read(tmp_path):
    made: list[str] = []

    def generate() -> str:
        made.append(f"secret-{len(made)}")
        return made[-1]

    path = tmp_path / "state" / "sim.secret"
    assert private_file(path, generate) == "secret-0"
    assert private_file(path, generate) == "secret-0"
    assert made == ["secret-0"]


def test_a_file_another_process_made_meanwhile_wins(tmp_path):
    path = tmp_path / "race.secret"

    def generate() -> str:
        path.write_text("theirs\n")  # the other process links its file first
        path.chmod(0o600)
        return "ours"

    assert private_file(path, generate) == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.secret"]


def test_a_file_left_readable_by_others_is_narrowed(tmp_path):
    path = tmp_path / "master.key"
    path.write_text("old-secret")
    path.chmod(0o644)
    assert private_file(path, lambda: "unused") == "old-secret"
    assert mode(path) == 0o600
