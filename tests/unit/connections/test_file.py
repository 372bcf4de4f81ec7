"""The connections file: the example applies, mistakes are named by connection and key, and no
error ever quotes a value (it could be a secret)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.connections.file import ConnectionFileError, load_connections, parse_connections

EXAMPLE = Path(__file__).parents[3] / "examples" / "connections.yaml"
CALLOUT_ONE = "callout-one-0123456789abcdefghijklmnop"
CALLOUT_TWO = "callout-two-0123456789abcdefghijklmnop"
ENV = {
    "ACME_COUPA_CLIENT_SECRET": "coupa-secret-value",
    "ACME_COUPA_CALLOUT_SECRETS": f"{CALLOUT_ONE}, {CALLOUT_TWO}",
    "ACME_DELTEK_PASSWORD": "deltek-password-value",
    "ACME_DELTEK_CLIENT_SECRET": "deltek-client-secret-value",
}


def example() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text())


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "connections.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def problems(tmp_path: Path, data: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConnectionFileError) as caught:
        load_connections(write(tmp_path, data), ENV if env is None else env)
    return caught.value.problems


def test_example_file_resolves_env_secrets_and_settings():
    (acme,) = load_connections(EXAMPLE, ENV)
    assert acme.name == "acme"
    assert acme.secrets.coupa_client_secret.get_secret_value() == "coupa-secret-value"
    callouts = [s.get_secret_value() for s in acme.secrets.coupa_callout_secrets]
    assert callouts == [CALLOUT_ONE, CALLOUT_TWO]
    assert acme.settings.coupa.api_version is None
    assert acme.settings.deltek.company == "01"
    assert acme.settings.mapping.project_segment == 1
    assert "coupa-secret-value" not in repr(acme)


def test_inline_secrets_work_and_omitted_optional_keys_take_defaults(tmp_path):
    data = example()
    coupa = data["connections"][0]["coupa"]
    del coupa["client_secret_env"], coupa["callout_secrets_env"], coupa["api_version"]
    coupa["client_secret"] = "inline-coupa-secret"
    (acme,) = load_connections(write(tmp_path, data), ENV)
    assert acme.secrets.coupa_client_secret.get_secret_value() == "inline-coupa-secret"
    assert acme.secrets.coupa_callout_secrets == ()
    assert acme.settings.coupa.api_version == "R39"


def test_unknown_key_is_named_with_its_connection_and_the_allowed_keys(tmp_path):
    data = example()
    data["connections"][0]["coupa"]["scope"] = ["core.invoice.read"]
    data["connections"][0]["deltek"]["pasword"] = "oops-secret"
    found = problems(tmp_path, data)
    assert any(p.startswith("connection 'acme': unknown key 'coupa.scope'") for p in found)
    assert any("'deltek.pasword'" in p and "password_env" in p for p in found)
    assert "oops-secret" not in "\n".join(found)


def test_a_secret_needs_exactly_one_source(tmp_path):
    data = example()
    data["connections"][0]["deltek"]["password"] = "both-given-secret"
    del data["connections"][0]["coupa"]["client_secret_env"]
    found = problems(tmp_path, data)
    assert "connection 'acme': deltek: give password or password_env, not both" in found
    assert "connection 'acme': coupa: client_secret or client_secret_env is required" in found


def test_unset_or_empty_variables_are_reported_all_at_once(tmp_path):
    env = {**ENV, "ACME_DELTEK_PASSWORD": " "}
    del env["ACME_COUPA_CLIENT_SECRET"]
    found = problems(tmp_path, example(), env)
    assert found == [
        "connection 'acme': client_secret_env names ACME_COUPA_CLIENT_SECRET, which is not set",
        "connection 'acme': password_env names ACME_DELTEK_PASSWORD, which is empty",
    ]


def test_names_must_be_unique_and_safe_for_record_keys(tmp_path):
    data = example()
    data["connections"].append(data["connections"][0])
    assert any("repeated: acme" in p for p in problems(tmp_path, data))
    data = example()
    data["connections"][0]["name"] = "Acme:EU"
    assert any(p.startswith("connection 'Acme:EU': name:") for p in problems(tmp_path, data))


def test_yaml_syntax_errors_give_the_position_but_not_the_line(tmp_path):
    text = "connections:\n  - name: acme\n    coupa: {client_secret: 'leaky-secret\n"
    with pytest.raises(ConnectionFileError) as caught:
        parse_connections(text, "f.yaml")
    assert "line" in str(caught.value)
    assert "leaky-secret" not in str(caught.value)


def test_a_wrongly_typed_secret_is_not_echoed(tmp_path):
    data = example()
    data["connections"][0]["deltek"].pop("password_env")
    data["connections"][0]["deltek"]["password"] = {"nested": "typed-wrong-secret"}
    found = problems(tmp_path, data)
    assert any("deltek.password" in p for p in found)
    assert "typed-wrong-secret" not in "\n".join(found)


def test_missing_file_and_wrong_shape(tmp_path):
    with pytest.raises(ConnectionFileError, match="cannot read it"):
        load_connections(tmp_path / "nope.yaml", ENV)
    with pytest.raises(ConnectionFileError, match="mapping with a 'connections' list"):
        parse_connections("- just a list", "f.yaml")


def test_a_callout_secret_under_32_characters_is_refused_by_field_never_quoted(tmp_path):
    """Call Out secrets are what the connector verifies pushes and token requests against."""
    env = {**ENV, "ACME_COUPA_CALLOUT_SECRETS": f"{CALLOUT_ONE}, short-callout-secret"}
    found = problems(tmp_path, example(), env)
    assert found == [
        "connection 'acme': coupa.callout_secrets[1] is shorter than 32 characters; "
        "`connector keys callout-secret` prints a strong one"
    ]
    data = example()
    coupa = data["connections"][0]["coupa"]
    del coupa["callout_secrets_env"]
    coupa["callout_secrets"] = [""]
    found = problems(tmp_path, data)
    assert found == ["connection 'acme': coupa.callout_secrets[0] is empty"]
    assert "short-callout-secret" not in "\n".join(found)


def test_issued_secrets_are_taken_as_they_come_but_not_empty(tmp_path):
    data = example()
    coupa, deltek = data["connections"][0]["coupa"], data["connections"][0]["deltek"]
    del coupa["client_secret_env"], deltek["password_env"]
    coupa["client_secret"], deltek["password"] = "", "pw"
    assert problems(tmp_path, data) == ["connection 'acme': coupa.client_secret is empty"]
    coupa["client_secret"] = "c"
    (acme,) = load_connections(write(tmp_path, data), ENV)
    assert acme.secrets.deltek_password.get_secret_value() == "pw"


@pytest.mark.parametrize(
    "url",
    ["https://acme.coupahost.com", "http://localhost:8091", "http://127.8.0.1", "http://[::1]:80"],
)
def test_https_or_loopback_base_urls_are_taken(tmp_path, url):
    data = example()
    data["connections"][0]["coupa"]["base_url"] = url
    (acme,) = load_connections(write(tmp_path, data), ENV)
    assert acme.settings.coupa.base_url == url


def test_http_to_another_host_is_refused_unless_the_connection_allows_it(tmp_path):
    data = example()
    data["connections"][0]["deltek"]["base_url"] = "http://vp.example.com/api"
    assert problems(tmp_path, data) == [
        "connection 'acme': deltek.base_url: http:// only for a loopback host (localhost, "
        "127.0.0.1, ::1); use https://, or set allow_insecure_http: true for a simulator"
    ]
    data["connections"][0]["allow_insecure_http"] = True
    (acme,) = load_connections(write(tmp_path, data), ENV)
    assert acme.settings.allow_insecure_http
    assert acme.deltek_config().api == "http://vp.example.com/api"
