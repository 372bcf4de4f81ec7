"""Each stored connection as far as the database knows it: settings without secrets, which
secrets are stored under which master key, how old each kind of reference data is, and the
last errors its records and inbox hold (``read/overview.py``).

Tokens are never stored: each service asks Coupa and Deltek for its own and keeps it in memory.
What the database can tell of their health is whether the secrets that obtain them are stored,
sealed under a key this console holds, and whether a record failed on a refused token lately.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.console.read.overview import ConnectionOverview, overview
from shared.connections.store import StoredConnection, list_connections
from shared.db.pool import Connection


@dataclass(frozen=True)
class ReferenceAge:
    kind: str
    rows: int
    refreshed_at: datetime


@dataclass(frozen=True)
class ConnectionStatus:
    stored: StoredConnection
    health: ConnectionOverview
    references: list[ReferenceAge] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.stored.name

    def secrets_unreadable(self, key_ids: frozenset[str]) -> list[str]:
        """The stored secrets sealed under a key not in ``key_ids`` (the console's keys)."""
        return sorted(f for f, key_id in self.stored.key_ids.items() if key_id not in key_ids)


async def connection_statuses(conn: Connection) -> list[ConnectionStatus]:
    """Every stored connection, by name."""
    health = {item.name: item for item in await overview(conn)}
    references: dict[str, list[ReferenceAge]] = {}
    for row in await conn.fetch(
        "SELECT connection, kind, rows, refreshed_at FROM reference_refreshes"
        " ORDER BY connection, kind"
    ):
        references.setdefault(row["connection"], []).append(
            ReferenceAge(row["kind"], row["rows"], row["refreshed_at"])
        )
    return [
        ConnectionStatus(
            stored,
            health.get(stored.name, ConnectionOverview(stored.name)),
            references.get(stored.name, []),
        )
        for stored in await list_connections(conn)
    ]
