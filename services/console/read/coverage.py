"""The coverage report of each connection, as ``connector mappings check`` prints it.

It is the mapper's own ``coverage`` (every stored invoice mapped again against today's maps and
reference cache), called as the CLI calls it, so the page and the command cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.mapper.coverage import Coverage, coverage
from services.mapper.rules.vendor import INACTIVE_VENDOR
from shared.connections.store import load_connection_settings
from shared.db.pool import Connection

# Each kind of gap: what lacks, in the CLI's words, and the kind of map that fills it (a supplier
# whose vendor is inactive is mapped to an active one; pay terms are a connection setting).
GAP_KINDS: dict[str, tuple[str, str | None]] = {
    "supplier": ("Coupa suppliers without a Deltek vendor", "suppliers"),
    INACTIVE_VENDOR: ("Coupa suppliers whose Deltek vendor is inactive", "suppliers"),
    "account": ("Account segment values without a GL account", "accounts"),
    "project": ("Project codes without an open, chargeable project", "projects"),
    "pay_terms": ("Coupa payment terms without Deltek pay terms", None),
}


@dataclass(frozen=True)
class ConnectionCoverage:
    name: str
    found: Coverage | None  # None: the connection is not stored, so nothing can be mapped again


async def coverage_of(conn: Connection, name: str) -> ConnectionCoverage:
    settings = await load_connection_settings(conn, name)
    return ConnectionCoverage(name, None if settings is None else await coverage(conn, settings))
