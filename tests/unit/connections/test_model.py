"""A connection's secrets round-trip through their stored fields and build the client configs."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from shared.connections.file import load_connections
from shared.connections.model import Connection, MissingSecretError, Secrets, StoredSettings
from shared.connections.store import WeakSecretsError, apply_connections
from shared.secrets import KeyRing, MasterKey, generate_callout_secret, generate_key
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


async def test_apply_refuses_a_weak_callout_secret_whoever_calls_it():
    """Not only the file: a connection built in code (as the dev stack does) is checked too,
    before the database is touched (``None`` stands in for it)."""
    (acme,) = load_connections(EXAMPLE, ENV)
    weak = Secrets(
        coupa_client_secret=SecretStr("c"),
        coupa_callout_secrets=(SecretStr(generate_callout_secret()), SecretStr("guessable")),
        deltek_password=SecretStr("p"),
        deltek_client_secret=SecretStr(""),
    )
    ring = KeyRing(MasterKey.parse(generate_key(), source="test"))
    with pytest.raises(WeakSecretsError) as caught:
        await apply_connections(None, ring, [Connection("acme", acme.settings, weak)])  # type: ignore[arg-type]
    assert caught.value.problems == [
        "connection 'acme': coupa.callout_secrets[1] is shorter than 32 characters; "
        "`connector keys callout-secret` prints a strong one",
        "connection 'acme': deltek.client_secret is empty",
    ]
    assert "guessable" not in str(caught.value)


def test_stored_settings_refuse_http_to_another_host_too():
    (acme,) = load_connections(EXAMPLE, ENV)
    stored = acme.settings.model_dump(mode="json")
    stored["coupa"]["base_url"] = "http://coupa.example.com"
    with pytest.raises(ValidationError, match=r"coupa.base_url: http:// only for a loopback"):
        StoredSettings.model_validate(stored)
    assert StoredSettings.model_validate({**stored, "allow_insecure_http": True})


async def test_apply_refuses_a_callout_secret_two_connections_share():
    """A signature covers the body only: with one secret, a push signed for one connection
    would be taken by the other."""
    (acme,) = load_connections(EXAMPLE, ENV)
    shared = SecretStr(generate_callout_secret())

    def secrets(*callout: SecretStr) -> Secrets:
        return Secrets(
            coupa_client_secret=SecretStr("c"),
            coupa_callout_secrets=callout,
            deltek_password=SecretStr("p"),
            deltek_client_secret=SecretStr("s"),
        )

    first = Connection("acme", acme.settings, secrets(shared))
    second = Connection(
        "globex", acme.settings, secrets(SecretStr(generate_callout_secret()), shared)
    )
    ring = KeyRing(MasterKey.parse(generate_key(), source="test"))
    with pytest.raises(WeakSecretsError) as caught:
        await apply_connections(None, ring, [first, second])  # type: ignore[arg-type]
    assert caught.value.problems == [
        "connection 'globex' coupa.callout_secrets[1] is the same secret as connection 'acme' "
        "coupa.callout_secrets[0]: each connection needs its own, or a push signed for one is "
        "taken by the other"
    ]
    assert shared.get_secret_value() not in str(caught.value)
