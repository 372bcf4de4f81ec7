"""The connections repository on real Postgres: sealed secrets, upsert, prune, key rotation."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from shared.connections.rotation import rotate_keys
from shared.connections.store import (
    ConnectionNotFoundError,
    apply_connections,
    list_connections,
    load_connection,
)
from shared.secrets import DecryptionError, KeyRing, UnknownKeyError, generate_key
from shared.settings import Settings
from tests.integration.connections.conftest import (
    COUPA_SECRET,
    DELTEK_PASSWORD,
    ENV,
    Sims,
    connection,
)

pytestmark = pytest.mark.integration
SIMS = Sims("http://127.0.0.1:8091", "http://127.0.0.1:8092/api")


def ring(current: str, *previous: str) -> KeyRing:
    settings = Settings(
        master_key=SecretStr(current),
        master_key_previous=SecretStr(",".join(previous)) if previous else None,
    )
    return KeyRing.from_settings(settings)


async def credentials(db) -> dict[str, tuple[str, bytes, bytes]]:
    rows = await db.fetch("SELECT connection, field, key_id, nonce, ciphertext FROM credentials")
    return {
        f"{r['connection']}/{r['field']}": (r["key_id"], bytes(r["nonce"]), bytes(r["ciphertext"]))
        for r in rows
    }


async def events(db) -> list[tuple[str, str, dict[str, Any]]]:
    rows = await db.fetch("SELECT record_key, event, details FROM audit_events ORDER BY id")
    return [(r["record_key"], r["event"], r["details"]) for r in rows]


async def test_apply_seals_every_secret_and_load_opens_them(db, tmp_path):
    keys = ring(generate_key())
    acme = connection(tmp_path, SIMS)
    outcome = await apply_connections(db, keys, [acme])
    assert [(a.name, a.action) for a in outcome.applied] == [("acme", "created")]
    stored = await credentials(db)
    assert set(stored) == {
        "acme/coupa.client_secret",
        "acme/coupa.callout_secrets",
        "acme/deltek.password",
        "acme/deltek.client_secret",
    }
    plaintexts = [value.encode() for value in ENV.values()]
    for key_id, _nonce, ciphertext in stored.values():
        assert key_id == keys.current.key_id
        assert not any(p in ciphertext for p in plaintexts)
    settings = await db.fetchval("SELECT settings::text FROM connections WHERE name = 'acme'")
    assert not any(value in settings for value in ENV.values())
    loaded = await load_connection(db, keys, "acme")
    assert loaded == acme
    assert await events(db) == [
        ("acme:connection:settings", "connection_created", {"key_id": keys.current.key_id})
    ]


async def test_reapply_is_a_no_op_and_changes_are_named_not_shown(db, tmp_path):
    keys = ring(generate_key())
    await apply_connections(db, keys, [connection(tmp_path, SIMS)])
    before = await credentials(db)
    again = await apply_connections(db, keys, [connection(tmp_path, SIMS)])
    assert [(a.action, a.changed) for a in again.applied] == [("unchanged", ())]
    assert await credentials(db) == before
    changed = connection(
        tmp_path,
        SIMS,
        env={**ENV, "ACME_DELTEK_PASSWORD": "a-new-deltek-password"},
        coupa={"scopes": ["core.invoice.read"], "callout_secrets_env": None},
    )
    outcome = await apply_connections(db, keys, [changed])
    (applied,) = outcome.applied
    assert applied.action == "updated"
    assert applied.changed == ("coupa.scopes", "deltek.password", "coupa.callout_secrets")
    assert "acme/coupa.callout_secrets" not in await credentials(db)
    loaded = await load_connection(db, keys, "acme")
    assert loaded.secrets.deltek_password.get_secret_value() == "a-new-deltek-password"
    _, event, details = (await events(db))[-1]
    assert event == "connection_updated"
    assert "a-new-deltek-password" not in str(details)


async def test_connections_missing_from_the_file_are_kept_unless_pruned(db, tmp_path):
    keys = ring(generate_key())
    await apply_connections(
        db, keys, [connection(tmp_path, SIMS), connection(tmp_path, SIMS, name="beta")]
    )
    kept = await apply_connections(db, keys, [connection(tmp_path, SIMS)])
    assert (kept.stale, kept.pruned) == (["beta"], False)
    assert [c.name for c in await list_connections(db)] == ["acme", "beta"]
    pruned = await apply_connections(db, keys, [connection(tmp_path, SIMS)], prune=True)
    assert pruned.stale == ["beta"]
    assert [c.name for c in await list_connections(db)] == ["acme"]
    assert await db.fetchval("SELECT count(*) FROM credentials WHERE connection = 'beta'") == 0
    assert (await events(db))[-1][:2] == ("beta:connection:settings", "connection_deleted")
    with pytest.raises(ConnectionNotFoundError, match="'beta'"):
        await load_connection(db, keys, "beta")


async def test_a_ciphertext_moved_to_another_field_does_not_decrypt(db, tmp_path):
    keys = ring(generate_key())
    await apply_connections(db, keys, [connection(tmp_path, SIMS)])
    await db.execute(
        """UPDATE credentials AS target SET nonce = source.nonce, ciphertext = source.ciphertext
           FROM credentials AS source
           WHERE target.field = 'deltek.password' AND source.field = 'coupa.client_secret'"""
    )
    with pytest.raises(DecryptionError, match=r"deltek\.password"):
        await load_connection(db, keys, "acme")


async def test_rotation_moves_every_secret_to_the_new_key_once(db, tmp_path):
    old, new = generate_key(), generate_key()
    await apply_connections(
        db, ring(old), [connection(tmp_path, SIMS), connection(tmp_path, SIMS, name="beta")]
    )
    both = ring(new, old)
    done = await rotate_keys(db, both)
    assert {name: len(fields) for name, fields in done.resealed.items()} == {"acme": 4, "beta": 4}
    assert done.remaining_key_ids == {both.current.key_id}
    assert {key_id for key_id, _, _ in (await credentials(db)).values()} == {both.current.key_id}
    again = await rotate_keys(db, both)
    assert (again.resealed, again.current) == ({}, 8)
    # Nothing is readable under the old key alone any more; the new key alone reads everything.
    with pytest.raises(UnknownKeyError):
        await load_connection(db, ring(old), "acme")
    loaded = await load_connection(db, ring(new), "acme")
    assert loaded.secrets.coupa_client_secret.get_secret_value() == COUPA_SECRET
    rotated = [e for e in await events(db) if e[1] == "credentials_reencrypted"]
    assert len(rotated) == 2
    assert rotated[0][2]["from_key_ids"] == [ring(old).current.key_id]


async def test_rotation_without_the_old_key_changes_nothing(db, tmp_path):
    old = generate_key()
    await apply_connections(db, ring(old), [connection(tmp_path, SIMS)])
    before = await credentials(db)
    with pytest.raises(UnknownKeyError, match="CONNECTOR_MASTER_KEY_PREVIOUS"):
        await rotate_keys(db, ring(generate_key()))
    assert await credentials(db) == before


async def test_apply_under_a_new_key_reseals_unchanged_secrets(db, tmp_path):
    old, new = generate_key(), generate_key()
    await apply_connections(db, ring(old), [connection(tmp_path, SIMS)])
    outcome = await apply_connections(db, ring(new, old), [connection(tmp_path, SIMS)])
    assert outcome.applied[0].action == "unchanged"
    loaded = await load_connection(db, ring(new), "acme")
    assert loaded.secrets.deltek_password.get_secret_value() == DELTEK_PASSWORD
