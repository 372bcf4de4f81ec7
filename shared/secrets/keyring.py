"""AES-GCM encryption of connection secrets under master keys that can rotate without downtime.

Design (architecture §3):

* A master key is 32 random bytes, given as urlsafe base64 in ``CONNECTOR_MASTER_KEY``
  (``connector keys generate`` prints one). Its key id is the first 8 bytes of
  SHA-256("connector-master-key-id:" + key) in hex: short, stable, and safe to show and store,
  because a 256-bit random key cannot be recovered from its hash.
* Each secret is sealed with AES-256-GCM directly under the current master key, with a fresh
  random 96-bit nonce per encryption. A data key per secret (envelope encryption) would only pay
  off with a remote KMS holding the master key; here rotation re-encrypts a few dozen small rows,
  and this handful of encryptions per key stays far below the random-nonce limit of AES-GCM.
* The associated data binds a ciphertext to its ``(connection, field)``: a ciphertext copied to
  another row or connection fails authentication instead of decrypting to the wrong secret.
* Readers hold a ring: the current key plus the keys in ``CONNECTOR_MASTER_KEY_PREVIOUS``
  (comma-separated), picked by the stored key id. Writers always seal under the current key. To
  rotate: set the new key as current and the old one as previous everywhere, run
  ``connector keys rotate``, then drop the previous key.
* No error message ever contains key material; only key ids.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.logs import register_secret
from shared.settings import Settings

KEY_BYTES = 32
NONCE_BYTES = 12
CURRENT_VAR = "CONNECTOR_MASTER_KEY"
PREVIOUS_VAR = "CONNECTOR_MASTER_KEY_PREVIOUS"
_AAD_LABEL = "connector.credential.v1"


class SecretsError(RuntimeError):
    """Something about the master keys or a sealed secret is wrong; the message says what."""


class MasterKeyMissingError(SecretsError):
    """No current master key is configured, so nothing can be encrypted or decrypted."""


class MasterKeyFormatError(SecretsError):
    """A configured key is not 32 bytes of urlsafe base64."""


class UnknownKeyError(SecretsError):
    """A secret was sealed under a key that is neither current nor listed as previous."""


class DecryptionError(SecretsError):
    """The key is known but the ciphertext does not authenticate: altered or moved."""


@dataclass(frozen=True)
class Sealed:
    """What is stored for one secret: which key, the nonce, and ciphertext with its GCM tag."""

    key_id: str
    nonce: bytes
    ciphertext: bytes


class MasterKey:
    """One AES-256 master key; its repr and str show only the key id."""

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_BYTES:
            raise MasterKeyFormatError(f"a master key must be {KEY_BYTES} bytes")
        self.key_id = hashlib.sha256(b"connector-master-key-id:" + raw).hexdigest()[:16]
        self._aead = AESGCM(raw)

    @classmethod
    def parse(cls, text: str, *, source: str) -> MasterKey:
        """Decode urlsafe base64 (padding optional); ``source`` names the variable in errors."""
        value = text.strip()
        register_secret(value)
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != KEY_BYTES:
            raise MasterKeyFormatError(
                f"{source} is not a valid master key: expected {KEY_BYTES} random bytes in "
                "urlsafe base64, as printed by `connector keys generate`"
            )
        return cls(raw)

    def seal(self, plaintext: bytes, aad: bytes) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        return Sealed(self.key_id, nonce, self._aead.encrypt(nonce, plaintext, aad))

    def open(self, sealed: Sealed, aad: bytes) -> bytes:
        """Raises ``cryptography``'s InvalidTag when the ciphertext does not authenticate."""
        return self._aead.decrypt(sealed.nonce, sealed.ciphertext, aad)

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"


def generate_key() -> str:
    """A new random master key in the form ``CONNECTOR_MASTER_KEY`` takes."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def _aad(connection: str, field: str) -> bytes:
    return orjson.dumps([_AAD_LABEL, connection, field])


class KeyRing:
    """Seals under the current key; opens with whichever configured key a secret names."""

    def __init__(self, current: MasterKey, previous: tuple[MasterKey, ...] = ()) -> None:
        self.current = current
        self._keys = {key.key_id: key for key in (*previous, current)}

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        if settings.master_key is None or not settings.master_key.get_secret_value().strip():
            raise MasterKeyMissingError(
                f"{CURRENT_VAR} is not set; create a key with `connector keys generate` and keep "
                "it safe: the stored secrets cannot be read without it"
            )
        current = MasterKey.parse(settings.master_key.get_secret_value(), source=CURRENT_VAR)
        previous_text = (
            settings.master_key_previous.get_secret_value() if settings.master_key_previous else ""
        )
        previous = tuple(
            MasterKey.parse(part, source=f"{PREVIOUS_VAR} entry {index}")
            for index, part in enumerate(previous_text.split(","), start=1)
            if part.strip()
        )
        return cls(current, previous)

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def seal(self, plaintext: str, *, connection: str, field: str) -> Sealed:
        return self.current.seal(plaintext.encode(), _aad(connection, field))

    def open(self, sealed: Sealed, *, connection: str, field: str) -> str:
        """The plaintext, registered for log redaction before anyone can log it."""
        what = f"secret {field} of connection {connection!r}"
        key = self._keys.get(sealed.key_id)
        if key is None:
            raise UnknownKeyError(
                f"{what} is encrypted under key {sealed.key_id}, which is neither "
                f"{CURRENT_VAR} (key {self.current.key_id}) nor listed in {PREVIOUS_VAR}"
            )
        try:
            raw = key.open(sealed, _aad(connection, field))
        except InvalidTag:
            raise DecryptionError(
                f"{what} does not decrypt under key {sealed.key_id}: the stored value was "
                "altered or belongs to another connection or field; apply the file again"
            ) from None
        plaintext = raw.decode()
        register_secret(plaintext)
        return plaintext
