"""``reconcile.enabled``: on unless a connection turns it off, carried from the connections file
through the stored settings to the pipeline settings, and a misspelt key is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.connection_settings import ConnectionSettings, ReconcileSettings
from shared.connections.file import load_connections
from shared.connections.model import StoredSettings
from tests.unit.connections.test_file import ENV, EXAMPLE, example, problems, write


def test_on_by_default() -> None:
    assert ConnectionSettings(name="acme").reconcile.enabled is True
    assert ConnectionSettings.from_stored("acme", {}).reconcile.enabled is True


def test_read_from_the_stored_reconcile_section() -> None:
    settings = ConnectionSettings.from_stored("acme", {"reconcile": {"enabled": False}})
    assert settings.reconcile == ReconcileSettings(enabled=False)


def test_a_misspelt_setting_is_refused() -> None:
    with pytest.raises(ValidationError):
        ReconcileSettings.model_validate({"enable": False})


def test_stored_settings_carry_it_to_the_pipeline() -> None:
    """What ``list_connections`` reads back, and the scheduled run filters on."""
    (acme,) = load_connections(EXAMPLE, ENV)
    stored = acme.settings.model_dump(mode="json") | {"reconcile": {"enabled": False}}
    settings = StoredSettings.model_validate(stored)
    assert settings.reconcile.enabled is False
    assert settings.pipeline("acme").reconcile.enabled is False


def test_the_connections_file_turns_it_off_for_the_stored_and_pipeline_settings(
    tmp_path: Path,
) -> None:
    data = example()
    data["connections"][0]["reconcile"] = {"enabled": False}
    (acme,) = load_connections(write(tmp_path, data), ENV)
    assert acme.settings.reconcile.enabled is False
    assert acme.pipeline_settings().reconcile.enabled is False


def test_a_typo_in_the_connections_file_is_named_with_the_allowed_keys(tmp_path: Path) -> None:
    data = example()
    data["connections"][0]["reconcile"] = {"enable": False}
    assert problems(tmp_path, data) == [
        "connection 'acme': unknown key 'reconcile.enable'; allowed here: enabled"
    ]
