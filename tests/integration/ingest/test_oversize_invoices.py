"""An invoice whose event is too large for Kafka: parked with its reason, the rest flows on.

A Call Out body under the HTTP limit (1 MiB) passes Kafka's message limit (also 1 MiB, the
producer's ``max_request_size``; the embedded broker has none of its own) once the purchase
orders its lines cite are added. The broker would refuse it every time, so retrying it held
back every inbox row behind it, for every connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from services.cli.audit_cmd import story
from services.ingest.inbox import accept_many
from shared.db.pool import Pool, create_pool
from shared.kafka.envelope import Envelope
from shared.settings import KafkaTuning, Settings
from tests.integration.ingest.conftest import CONNECTION, StartRig
from tests.support import eventually, read_topic

pytestmark = pytest.mark.integration

OTHER_CONNECTION = "globex"


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(db_url)
    yield pool
    await pool.close()


def size(body: dict[str, Any]) -> int:
    return len(orjson.dumps(body))


async def test_an_oversize_invoice_is_parked_and_the_invoices_behind_it_are_published(
    start_rig: StartRig, pool: Pool, kafka_bootstrap: str, topics
):
    rig = await start_rig()
    store = rig.sim_store
    order = store.create_purchase_order({"comments": "p" * 60_000})
    big = store.create_invoice(None, order["id"], "approved")
    big["comments"] = "i" * (1_000_000 - size(big))
    # The Call Out itself would be taken (under the 1 MiB body limit); its event would not.
    assert size(big) < Settings().max_body_bytes
    assert size(big) + size(order) > KafkaTuning().max_message_bytes
    before, after = (store.create_invoice(None, order["id"], "approved") for _ in range(2))
    elsewhere = store.create_invoice(None, None, "approved")
    async with pool.acquire() as conn:
        await accept_many(conn, CONNECTION, "invoice", [before, big, after], "webhook")
        await accept_many(conn, OTHER_CONNECTION, "invoice", [elsewhere], "poll")

    async def all_settled() -> bool:
        return not await pool.fetchval(
            "SELECT count(*) FROM coupa_inbox WHERE published_at IS NULL AND parked_at IS NULL"
        )

    await eventually(all_settled, within=30, what="the drain settling every inbox row")
    values = await read_topic(kafka_bootstrap, topics.coupa_invoices, expect=3)
    events = [Envelope.decode(value) for value in values]
    assert sorted(e.key for e in events) == sorted(
        [
            f"{CONNECTION}:invoice:{before['id']}",
            f"{CONNECTION}:invoice:{after['id']}",
            f"{OTHER_CONNECTION}:invoice:{elsewhere['id']}",
        ]
    )

    key = f"{CONNECTION}:invoice:{big['id']}"
    inbox = await pool.fetchrow(
        "SELECT published_at, parked_at, last_error FROM coupa_inbox WHERE coupa_id = $1",
        str(big["id"]),
    )
    assert inbox is not None
    assert inbox["published_at"] is None and inbox["parked_at"] is not None
    record = await pool.fetchrow(
        "SELECT state, parked_reason, waiting_for, payload FROM records WHERE record_key = $1",
        key,
    )
    assert record is not None
    assert record["state"] == "parked"
    assert record["waiting_for"] is None, "nothing a map supplies lets it go on by itself"
    assert record["payload"]["purchase_orders"] == [order]
    reason = record["parked_reason"]
    assert reason == inbox["last_error"]
    assert f"Coupa invoice {big['invoice-number']}" in reason
    assert "too large to pass through Kafka" in reason
    assert f"connector replay --record {key}" in reason

    async with pool.acquire() as conn:
        told = await story(conn, key)
    assert f"parked — reason: {reason}" in told
    # Event lines start with the time ("  2026-..."): the story runs from received to parked.
    steps = [line.split()[1:3] for line in told.splitlines() if line.startswith("  20")]
    assert steps == [["ingest", "received"], ["ingest", "parked"]]
