"""``connector keys rotate``: re-encrypt every stored secret under the current master key.

Services keep running throughout: while the old key is still listed in
``CONNECTOR_MASTER_KEY_PREVIOUS`` a reader opens either version of a row, and each connection is
re-sealed in its own short transaction, so no reader ever sees a half-rotated connection.
Rows already under the current key are left alone, which makes a second run a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.connections.store import audit_connection, sealed_secrets, store_sealed
from shared.db.pool import Connection as Db
from shared.secrets import KeyRing


@dataclass(frozen=True)
class Rotation:
    key_id: str
    resealed: dict[str, list[str]]  # connection -> fields re-encrypted now
    current: int  # secrets that were already under the current key
    remaining_key_ids: frozenset[str]  # keys still sealing something afterwards


async def rotate_keys(db: Db, ring: KeyRing) -> Rotation:
    """Re-seal every secret not under ``ring.current``; raises before writing if one won't open."""
    key_id = ring.current.key_id
    resealed: dict[str, list[str]] = {}
    current = 0
    names = [r["name"] for r in await db.fetch("SELECT name FROM connections ORDER BY name")]
    for name in names:
        async with db.transaction():
            rows = await sealed_secrets(db, name, lock=True)
            old_ids = sorted({sealed.key_id for sealed in rows.values()} - {key_id})
            current += sum(1 for sealed in rows.values() if sealed.key_id == key_id)
            stale = {f: s for f, s in rows.items() if s.key_id != key_id}
            # Open them all first: a row that will not open stops this connection untouched.
            plain = {f: ring.open(s, connection=name, field=f) for f, s in stale.items()}
            for field_name, text in plain.items():
                sealed = ring.seal(text, connection=name, field=field_name)
                await store_sealed(db, name, field_name, sealed)
            if plain:
                resealed[name] = sorted(plain)
                details = {"fields": sorted(plain), "from_key_ids": old_ids, "key_id": key_id}
                await audit_connection(db, name, "credentials_reencrypted", details)
    in_use = await db.fetch("SELECT DISTINCT key_id FROM credentials")
    return Rotation(key_id, resealed, current, frozenset(r["key_id"] for r in in_use))
