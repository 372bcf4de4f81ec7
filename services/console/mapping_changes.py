"""Setting maps from the console: the write ``connector mappings import`` makes, and who made it.

``upsert_mappings`` writes the maps and notifies the mapper in one transaction, so the records
parked for want of them go on by themselves. In that transaction each of those records also gets
a ``mapping_set`` audit event naming the console user, as a fix in the exception queue does, and
the maps' own trail (record key ``<connection>:mappings:<kind>``, as a connection's settings have
``<connection>:connection:settings``) gets one ``mappings_set`` event with every value that
changed, from what to what, so a change that no record waited for is audited too. The map rows
keep the user as their ``source``.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.console.read.exceptions import waiting_groups
from services.console.read.mappings import current_values
from shared.db.pool import Connection
from shared.mappings import UpsertCounts, upsert_mappings
from shared.records import append_audit


@dataclass(frozen=True)
class MapChange:
    counts: UpsertCounts
    resumed: list[str]  # keys of the parked records that waited for one of the maps

    def summary(self, connection: str, kind_name: str) -> str:
        return (
            f"{connection} {kind_name}: {self.counts.added} added, {self.counts.changed} changed, "
            f"{self.counts.unchanged} unchanged; {len(self.resumed)} waiting record(s) go on."
        )


async def set_maps(
    conn: Connection,
    connection: str,
    map_kind: str,
    rows: list[tuple[str, str]],
    *,
    by: str,
    user: str,
) -> MapChange:
    """Write ``rows`` (Coupa value, Deltek value) as maps of ``map_kind``, all or none."""
    wanted = dict(rows)
    async with conn.transaction():
        waiting = [
            (group.coupa_value, key)
            for group in await waiting_groups(conn)
            if group.connection == connection
            and group.map_kind == map_kind
            and group.coupa_value in wanted
            for key in group.record_keys
        ]
        before = await current_values(conn, connection, map_kind, list(wanted))
        counts = await upsert_mappings(conn, connection, map_kind, rows, source=by)
        changes = [
            {"coupa_value": coupa, "from": before.get(coupa), "to": deltek}
            for coupa, deltek in rows
            if before.get(coupa) != deltek
        ]
        if changes:
            await append_audit(
                conn,
                record_key=f"{connection}:mappings:{map_kind}",
                service=by,
                event="mappings_set",
                details={"user": user, "kind": map_kind, "changes": changes},
            )
        for coupa_value, key in waiting:
            await append_audit(
                conn,
                record_key=key,
                service=by,
                event="mapping_set",
                details={
                    "kind": map_kind,
                    "coupa_value": coupa_value,
                    "deltek_value": wanted[coupa_value],
                    "user": user,
                },
            )
    return MapChange(counts, list(dict.fromkeys(key for _, key in waiting)))
