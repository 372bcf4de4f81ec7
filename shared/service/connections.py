"""Giving a service its connections: the encrypted store by default, another one in tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar, cast

from aiohttp import web

from shared.connections.runtime import StoredConnections
from shared.secrets import KeyRing
from shared.service.app import POOL, SETTINGS

T = TypeVar("T")


def use_connections(app: web.Application, key: web.AppKey[T], given: T | None) -> None:
    """Put ``given`` under ``key``, or else the stored connections, opened after the pool.

    Without ``CONNECTOR_MASTER_KEY`` no secret can be read, so a service that needs the store
    stops at start with that message instead of failing every message it handles.
    """
    if given is not None:
        app[key] = given
        return

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        store = StoredConnections(app[POOL], KeyRing.from_settings(app[SETTINGS]))
        app[key] = cast(T, store)  # it satisfies each service's connections protocol
        yield
        await store.close()

    app.cleanup_ctx.append(store_ctx)
