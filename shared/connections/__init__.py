"""Connections (one Coupa instance, one Deltek tenant): the YAML file, the encrypted store, and
the diagnosis behind ``connector connections test``. Services load one with ``load_connection``
and build their clients with ``Connection.coupa_config()`` / ``deltek_config()``."""

from __future__ import annotations

from shared.connections.model import Connection, MissingSecretError, Secrets, StoredSettings
from shared.connections.store import (
    ConnectionNotFoundError,
    StoredConnection,
    list_connections,
    load_connection,
)

__all__ = [
    "Connection",
    "ConnectionNotFoundError",
    "MissingSecretError",
    "Secrets",
    "StoredConnection",
    "StoredSettings",
    "list_connections",
    "load_connection",
]
