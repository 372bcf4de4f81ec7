"""Master keys and the key ring: sealing, binding to (connection, field), rotation, clear errors."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from shared.secrets import (
    DecryptionError,
    KeyRing,
    MasterKey,
    MasterKeyFormatError,
    MasterKeyMissingError,
    Sealed,
    UnknownKeyError,
    generate_key,
)
from shared.settings import Settings


def ring(current: str, *previous: str) -> KeyRing:
    settings = Settings(
        master_key=SecretStr(current),
        master_key_previous=SecretStr(",".join(previous)) if previous else None,
    )
    return KeyRing.from_settings(settings)


def test_sealed_secret_opens_and_is_not_plaintext():
    keys = ring(generate_key())
    sealed = keys.seal("very-secret-value", connection="acme", field="deltek.password")
    assert b"very-secret-value" not in sealed.ciphertext
    assert len(sealed.nonce) == 12
    assert sealed.key_id == keys.current.key_id
    assert keys.open(sealed, connection="acme", field="deltek.password") == "very-secret-value"


def test_every_seal_uses_a_fresh_nonce():
    keys = ring(generate_key())
    first = keys.seal("same", connection="acme", field="f")
    second = keys.seal("same", connection="acme", field="f")
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext


@pytest.mark.parametrize(("connection", "field"), [("other", "deltek.password"), ("acme", "x")])
def test_ciphertext_is_bound_to_its_connection_and_field(connection, field):
    keys = ring(generate_key())
    sealed = keys.seal("pw", connection="acme", field="deltek.password")
    with pytest.raises(DecryptionError, match="another connection or field"):
        keys.open(sealed, connection=connection, field=field)


def test_tampered_ciphertext_does_not_open():
    keys = ring(generate_key())
    sealed = keys.seal("pw", connection="acme", field="f")
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(DecryptionError):
        keys.open(Sealed(sealed.key_id, sealed.nonce, flipped), connection="acme", field="f")


def test_previous_keys_still_open_and_unknown_keys_are_named_by_id_only():
    old, new = generate_key(), generate_key()
    sealed = ring(old).seal("pw", connection="acme", field="f")
    assert ring(new, old).open(sealed, connection="acme", field="f") == "pw"
    with pytest.raises(UnknownKeyError) as caught:
        ring(new).open(sealed, connection="acme", field="f")
    message = str(caught.value)
    assert sealed.key_id in message
    assert "CONNECTOR_MASTER_KEY_PREVIOUS" in message
    assert old not in message
    assert new not in message


def test_missing_and_malformed_keys_say_what_to_do_without_echoing_the_value():
    with pytest.raises(MasterKeyMissingError, match="connector keys generate"):
        KeyRing.from_settings(Settings(master_key=None))
    short = base64.urlsafe_b64encode(b"k" * 16).decode()
    with pytest.raises(MasterKeyFormatError) as caught:
        ring(short)
    assert short not in str(caught.value)
    assert "CONNECTOR_MASTER_KEY " in str(caught.value)
    with pytest.raises(MasterKeyFormatError, match="PREVIOUS entry 2"):
        ring(generate_key(), generate_key(), "not-a-key!")


def test_key_format_accepts_missing_padding_and_ids_are_stable_and_short():
    key = generate_key()
    assert len(base64.urlsafe_b64decode(key)) == 32
    unpadded = MasterKey.parse(key.rstrip("="), source="x")
    assert unpadded.key_id == MasterKey.parse(key, source="x").key_id
    assert len(unpadded.key_id) == 16
    assert key not in repr(unpadded)
    assert ring(generate_key(), f" {key} , ").key_ids >= {unpadded.key_id}
