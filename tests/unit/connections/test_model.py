"""A connection's secrets round-trip through their stored fields and build the client configs."""

from __future__ import annotations

import pytest

from shared.connections.file import load_connections
from shared.connections.model import MissingSecretError, Secrets
from tests.unit.connections.test_file import ENV, EXAMPLE


def test_secrets_round_trip_through_stored_fields():
    (acme,) = load_connections(EXAMPLE, ENV)
    fields = acme.secrets.to_fields()
    assert set(fields) == {
        "coupa.client_secret",
        "coupa.callout_secrets",
        "deltek.password",
        "deltek.client_secret",
    }
    assert Secrets.from_fields("acme", fields) == acme.secrets


def test_a_missing_required_secret_is_named():
    (acme,) = load_connections(EXAMPLE, ENV)
    fields = acme.secrets.to_fields()
    del fields["deltek.password"]
    with pytest.raises(MissingSecretError, match=r"'acme' has no stored deltek.password"):
        Secrets.from_fields("acme", fields)


def test_client_configs_carry_settings_and_secrets():
    (acme,) = load_connections(EXAMPLE, ENV)
    coupa = acme.coupa_config(attempts=2)
    assert coupa.base_url == "http://127.0.0.1:8091"
    assert coupa.client_secret.get_secret_value() == "coupa-secret-value"
    assert coupa.api_version is None
    assert coupa.token_first_use_delay_seconds == 0
    assert coupa.attempts == 2
    deltek = acme.deltek_config()
    assert deltek.api == "http://127.0.0.1:8092/api"
    assert deltek.password.get_secret_value() == "deltek-password-value"
    assert deltek.client_secret.get_secret_value() == "deltek-client-secret-value"
    assert (deltek.database, deltek.username, deltek.client_id) == (
        "ACME_PROD",
        "COUPA_API",
        "coupa-connector",
    )
    pipeline = acme.pipeline_settings()
    assert pipeline.name == "acme"
    assert pipeline.deltek.liability_code == "Trade"
    assert pipeline.mapping == acme.settings.mapping
