"""The master key of the ``connector dev`` running in this folder, for commands and services.

``connector dev`` started without ``CONNECTOR_MASTER_KEY`` seals its connections under a key of
its own in ``<state_dir>/master.key``, and commands run in its folder already find its Postgres
and broker through ``stack.json``. Without the key as well, ``connections apply``, ``keys
rotate``, ``vendors sync`` or ``preview`` would stop at "CONNECTOR_MASTER_KEY is not set" with
the stack right there, and so would a service started by hand (the supervisor gives its own
services the key). The dev key is taken only when no key is configured and the command's
database is that stack's, so nothing bound for another database is ever sealed under a dev key,
and one line on stderr names the file, so nobody wonders which key was used.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import SecretStr

from shared.endpoints import resolve_database_url, running_stack
from shared.secrets import KeyRing
from shared.settings import Settings

DEV_KEY_FILE = "master.key"


def dev_key_path(settings: Settings) -> Path:
    """Where ``connector dev`` keeps the key it made (mode 0600)."""
    return Path(settings.state_dir) / DEV_KEY_FILE


def key_ring(settings: Settings, command: str) -> KeyRing:
    """The configured keys; in the folder of a running dev stack without a key, the stack's."""
    return KeyRing.from_settings(with_dev_key(settings, command))


def with_dev_key(settings: Settings, command: str) -> Settings:
    """``settings`` with the dev stack's key as master key, where that is the key to use."""
    if settings.master_key is not None:
        return settings
    stack = running_stack(settings)
    path = dev_key_path(settings)
    if stack is None or not path.is_file():
        return settings
    if resolve_database_url(settings) != stack["database_url"]:
        return settings
    print(
        f"connector {command}: CONNECTOR_MASTER_KEY is not set; using the dev stack's key "
        f"from {path.resolve()}",
        file=sys.stderr,
    )
    key = SecretStr(path.read_text(encoding="utf-8").strip())
    return settings.model_copy(update={"master_key": key})
