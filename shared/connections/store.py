"""The connections repository: upsert with secrets sealed, load with secrets opened, list, prune.

Settings live as JSON in ``connections``; each secret is one AES-GCM row in ``credentials``
(``shared.secrets``). Every change is an audit event under the record key
``{name}:connection:settings`` whose details name what changed, never a value.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared.connection_settings import ConnectionSettings
from shared.connections.model import Connection, Secrets, StoredSettings
from shared.db.pool import Connection as Db
from shared.mappings import notify_changed
from shared.records import append_audit
from shared.secrets import KeyRing, Sealed, SecretsError

AUDIT_SERVICE = "cli"
_SEALED = """SELECT field, key_id, nonce, ciphertext FROM credentials
             WHERE connection = $1 ORDER BY field"""
_SEALED_FOR_UPDATE = _SEALED + " FOR UPDATE"


class ConnectionNotFoundError(LookupError):
    """No stored connection has that name."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no connection named {name!r} is stored; `connector connections list` shows them"
        )


class WeakSecretsError(ValueError):
    """A connection's secrets are too weak to store; ``problems`` name connection and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("secrets too weak to store: " + "; ".join(problems))


def shared_callout_secrets(connections: list[Connection]) -> list[str]:
    """Call Out secrets that two connections share: a signature is made over the body alone,
    so a push signed for one of them would be taken by the other."""
    first_seen: dict[str, str] = {}
    problems = []
    for connection in connections:
        for n, secret in enumerate(connection.secrets.coupa_callout_secrets):
            field = f"connection {connection.name!r} coupa.callout_secrets[{n}]"
            value = secret.get_secret_value()
            if value in first_seen and not first_seen[value].startswith(
                f"connection {connection.name!r} "
            ):
                problems.append(
                    f"{field} is the same secret as {first_seen[value]}: each connection "
                    "needs its own, or a push signed for one is taken by the other"
                )
            first_seen.setdefault(value, field)
    return problems


@dataclass(frozen=True)
class Applied:
    """What ``apply`` did to one connection; ``changed`` lists setting paths and secret fields."""

    name: str
    action: Literal["created", "updated", "unchanged"]
    changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApplyOutcome:
    applied: list[Applied]
    # Stored but absent from the file: deleted with ``prune``, otherwise kept and reported.
    stale: list[str]
    pruned: bool


@dataclass(frozen=True)
class StoredConnection:
    """A connection as listed: settings, and for each secret only the key id sealing it."""

    name: str
    settings: StoredSettings
    key_ids: dict[str, str]
    created_at: datetime
    updated_at: datetime


async def sealed_secrets(db: Db, name: str, *, lock: bool = False) -> dict[str, Sealed]:
    """The sealed rows of one connection by field; ``lock`` holds them for this transaction."""
    rows = await db.fetch(_SEALED_FOR_UPDATE if lock else _SEALED, name)
    return {
        r["field"]: Sealed(r["key_id"], bytes(r["nonce"]), bytes(r["ciphertext"])) for r in rows
    }


async def store_sealed(db: Db, name: str, field_name: str, sealed: Sealed) -> None:
    await db.execute(
        """INSERT INTO credentials (connection, field, key_id, nonce, ciphertext)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (connection, field) DO UPDATE
           SET key_id = $3, nonce = $4, ciphertext = $5, updated_at = now()""",
        name,
        field_name,
        sealed.key_id,
        sealed.nonce,
        sealed.ciphertext,
    )


async def apply_connections(
    db: Db, ring: KeyRing, connections: list[Connection], *, prune: bool = False
) -> ApplyOutcome:
    """Upsert every connection of a file in one transaction: all of it applies, or none.

    Weak secrets are refused here too, not only when a file is read, so that no caller can
    store a Call Out secret short enough to guess, nor one that two connections share.
    """
    weak = [f"connection {c.name!r}: {w}" for c in connections for w in c.secrets.weaknesses()]
    weak += shared_callout_secrets(connections)
    if weak:
        raise WeakSecretsError(weak)
    async with db.transaction():
        applied = [await _apply_one(db, ring, connection) for connection in connections]
        for connection in connections:  # a new map or mode may let held records go on
            await notify_changed(db, connection.name)
        stored = [r["name"] for r in await db.fetch("SELECT name FROM connections ORDER BY name")]
        wanted = {connection.name for connection in connections}
        stale = [name for name in stored if name not in wanted]
        if prune:
            for name in stale:
                await db.execute("DELETE FROM connections WHERE name = $1", name)
                await audit_connection(db, name, "connection_deleted", {})
    return ApplyOutcome(applied, stale, prune)


async def _apply_one(db: Db, ring: KeyRing, connection: Connection) -> Applied:
    name = connection.name
    settings = connection.settings.model_dump(mode="json")
    before = await db.fetchval("SELECT settings FROM connections WHERE name = $1 FOR UPDATE", name)
    if before is None:
        await db.execute("INSERT INTO connections (name, settings) VALUES ($1, $2)", name, settings)
    changed = [] if before is None else _changed_paths(before, settings)
    old = await sealed_secrets(db, name, lock=True)
    new = connection.secrets.to_fields()
    for field_name, plaintext in new.items():
        held = old.get(field_name)
        same = held is not None and _holds(ring, held, name, field_name, plaintext)
        if not same:
            changed.append(field_name)
        if not same or held is None or held.key_id != ring.current.key_id:
            await store_sealed(
                db, name, field_name, ring.seal(plaintext, connection=name, field=field_name)
            )
    for field_name in sorted(set(old) - set(new)):
        await db.execute(
            "DELETE FROM credentials WHERE connection = $1 AND field = $2", name, field_name
        )
        changed.append(field_name)
    if before is None:
        await audit_connection(db, name, "connection_created", {"key_id": ring.current.key_id})
        return Applied(name, "created")
    if not changed:
        return Applied(name, "unchanged")
    await db.execute(
        "UPDATE connections SET settings = $2, updated_at = now() WHERE name = $1", name, settings
    )
    details = {"changed": changed, "key_id": ring.current.key_id}
    await audit_connection(db, name, "connection_updated", details)
    return Applied(name, "updated", tuple(changed))


def _holds(ring: KeyRing, sealed: Sealed, name: str, field_name: str, plaintext: str) -> bool:
    """Whether the stored secret equals ``plaintext``; one that cannot be opened counts as not."""
    try:
        stored = ring.open(sealed, connection=name, field=field_name)
    except SecretsError:
        return False
    return hmac.compare_digest(stored.encode(), plaintext.encode())


def _changed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the settings that differ, e.g. ``coupa.scopes``."""
    if isinstance(before, dict) and isinstance(after, dict):
        paths: list[str] = []
        for key in sorted(set(before) | set(after)):
            paths += _changed_paths(before.get(key), after.get(key), f"{prefix}{key}.")
        return paths
    return [] if before == after else [prefix.rstrip(".")]


async def audit_connection(db: Db, name: str, event: str, details: dict[str, Any]) -> None:
    """One event in the connection's trail; ``details`` name fields and key ids, never values."""
    await append_audit(
        db,
        record_key=f"{name}:connection:settings",
        service=AUDIT_SERVICE,
        event=event,
        details=details,
    )


async def load_connection(db: Db, ring: KeyRing, name: str) -> Connection:
    """A stored connection with its secrets decrypted (and registered for log redaction)."""
    settings = await db.fetchval("SELECT settings FROM connections WHERE name = $1", name)
    if settings is None:
        raise ConnectionNotFoundError(name)
    opened = {
        field_name: ring.open(sealed, connection=name, field=field_name)
        for field_name, sealed in (await sealed_secrets(db, name)).items()
    }
    return Connection(
        name, StoredSettings.model_validate(settings), Secrets.from_fields(name, opened)
    )


async def list_connections(db: Db, name: str | None = None) -> list[StoredConnection]:
    """Stored connections (or the one named) without decrypting anything."""
    rows = await db.fetch(
        """SELECT c.name, c.settings, c.created_at, c.updated_at,
                  coalesce(jsonb_object_agg(k.field, k.key_id) FILTER (WHERE k.field IS NOT NULL),
                           '{}'::jsonb) AS key_ids
           FROM connections c LEFT JOIN credentials k ON k.connection = c.name
           WHERE $1::text IS NULL OR c.name = $1
           GROUP BY c.name ORDER BY c.name""",
        name,
    )
    if name is not None and not rows:
        raise ConnectionNotFoundError(name)
    return [
        StoredConnection(
            r["name"],
            StoredSettings.model_validate(r["settings"]),
            dict(r["key_ids"]),
            r["created_at"],
            r["updated_at"],
        )
        for r in rows
    ]


async def load_connection_settings(conn: Db, name: str) -> ConnectionSettings | None:
    """The stored connection's mode, ``mapping`` and posting settings; None if there is none.

    Reads the ``connections`` table's JSON directly, without secrets, so a service that only
    maps (no Coupa or Deltek calls) needs no master key.
    """
    settings = await conn.fetchval("SELECT settings FROM connections WHERE name = $1", name)
    return None if settings is None else ConnectionSettings.from_stored(name, settings)
