"""``coupa.mark_exported``: off unless a connection turns it on; read from the stored ``coupa``
section, whose client settings (URL, client id...) stay out of the pipeline settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.connection_settings import ConnectionSettings, CoupaWriteBackSettings

CLIENT = {"base_url": "https://acme.coupahost.com", "client_id": "connector"}


def test_off_by_default() -> None:
    assert ConnectionSettings(name="acme").coupa.mark_exported is False
    assert ConnectionSettings.from_stored("acme", {"coupa": CLIENT}).coupa.mark_exported is False


def test_read_from_the_stored_coupa_section() -> None:
    stored = {"coupa": {**CLIENT, "mark_exported": True}, "deltek": {"post_batches": True}}
    settings = ConnectionSettings.from_stored("acme", stored)
    assert settings.coupa == CoupaWriteBackSettings(mark_exported=True)
    assert settings.deltek.post_batches is True


def test_a_misspelt_setting_is_refused() -> None:
    with pytest.raises(ValidationError):
        CoupaWriteBackSettings.model_validate({"mark_exportd": True})
