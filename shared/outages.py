"""The exceptions that mean a dependency (Postgres, the broker, the network) is down for now.

Work that meets one of these waits and tries again; giving up would lose a record. Kept in one
place so the consumer loop, the poll and the inbox drain agree on what "down for now" is.
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaConnectionError

OUTAGES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    # A pooled connection left mid-operation by a server that died ("cannot switch to state").
    asyncpg.InternalClientError,
    KafkaConnectionError,
)

# What a background loop (not a message handler) waits out instead of dying of: an outage, or
# Postgres refusing anything (starting up, shutting down, restarted under a statement).
LOOP_SETBACKS: tuple[type[BaseException], ...] = (*OUTAGES, asyncpg.PostgresError)
