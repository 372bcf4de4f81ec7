"""Replay by filter reads at most one record more than the console replays at once, however many
match: a broad filter must not load every record with its payload."""

from __future__ import annotations

from typing import Any

import pytest

from services.console.pages import replay_filter
from shared.db.pool import Connection
from shared.replay import Selection, select
from tests.integration.console.seed import seed

pytestmark = pytest.mark.integration


async def test_a_broad_filter_reads_one_record_more_than_it_replays(console, db_url, monkeypatch):
    await seed(db_url)  # four records of acme
    read: list[int] = []

    async def counted(
        conn: Connection, selection: Selection, **limits: int
    ) -> list[dict[str, Any]]:
        rows = await select(conn, selection, **limits)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(replay_filter, "select", counted)
    monkeypatch.setattr(replay_filter, "WATCH_LIMIT", 2)
    await console.sign_in("otto")
    async with console.client.get("/replay?connection=acme") as answer:
        assert answer.status == 400
        assert "More than 2 records match" in await answer.text()
    assert read == [3]
