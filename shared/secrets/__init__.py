"""Encryption of stored secrets under rotating master keys (see ``keyring`` for the design)."""

from __future__ import annotations

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

__all__ = [
    "DecryptionError",
    "KeyRing",
    "MasterKey",
    "MasterKeyFormatError",
    "MasterKeyMissingError",
    "Sealed",
    "SecretsError",
    "UnknownKeyError",
    "generate_key",
]
