"""The strength a stored secret needs, and ``connector keys callout-secret`` that meets it."""

from __future__ import annotations

import pytest

from services.cli.main import main
from shared.secrets import MIN_VERIFIED_LENGTH, generate_callout_secret, weakness


def test_keys_callout_secret_prints_a_fresh_secret_strong_enough_to_verify(capsys):
    printed = []
    for _ in range(2):
        assert main(["keys", "callout-secret"]) == 0
        out = capsys.readouterr()
        printed.append(out.out.strip())
        assert "callout_secrets" in out.err
    assert printed[0] != printed[1]
    for secret in printed:
        assert len(secret) >= MIN_VERIFIED_LENGTH
        assert weakness(secret, verified=True) is None


@pytest.mark.parametrize(
    ("value", "verified", "reason"),
    [
        ("", False, "is empty"),
        ("  ", True, "is empty"),
        ("x", False, None),
        ("x" * 31, True, "is shorter than 32 characters"),
        ("x" * 32, True, None),
    ],
)
def test_verified_secrets_need_32_characters_issued_ones_only_not_to_be_empty(
    value, verified, reason
):
    found = weakness(value, verified=verified)
    assert (found or "").partition(";")[0] == (reason or "")


def test_generated_secrets_are_url_safe_so_they_survive_env_files_and_headers():
    secret = generate_callout_secret()
    assert secret.replace("-", "").replace("_", "").isalnum()
