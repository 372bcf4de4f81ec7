"""Encryption of stored secrets under rotating master keys (see ``keyring`` for the design), the
strength a stored secret needs (``strength``), and owner-only secret files (``files``)."""

from __future__ import annotations

from shared.secrets.files import private_file
from shared.secrets.keyring import (
    DecryptionError,
    KeyRing,
    MasterKey,
    MasterKeyFormatError,
    MasterKeyMissingError,
    Sealed,
    SecretsError,
    UnknownKeyError,
    generate_key,
)
from shared.secrets.strength import MIN_VERIFIED_LENGTH, generate_callout_secret, weakness

__all__ = [
    "MIN_VERIFIED_LENGTH",
    "DecryptionError",
    "KeyRing",
    "MasterKey",
    "MasterKeyFormatError",
    "MasterKeyMissingError",
    "Sealed",
    "SecretsError",
    "UnknownKeyError",
    "generate_callout_secret",
    "generate_key",
    "private_file",
    "weakness",
]
