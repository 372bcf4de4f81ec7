"""What ingest needs to know about connections, as one seam the app is given.

The production directory reads the encrypted connections store; tests hand in one that points
at a simulator. Either way ingest never touches credentials storage itself.
"""

from __future__ import annotations

from typing import Protocol

from shared.coupa.client import CoupaClient


class CoupaConnections(Protocol):
    async def names(self) -> list[str]:
        """Every configured connection."""
        ...

    async def callout_secrets(self, name: str) -> list[str] | None:
        """The active Call Out secrets of ``name``; None when no such connection exists."""
        ...

    async def poll_interval(self, name: str) -> float:
        """Seconds between two polls of ``name``."""
        ...

    async def coupa(self, name: str) -> CoupaClient:
        """A started client for ``name``'s Coupa instance, shared by every caller."""
        ...
