"""``coupa.mark_exported``: ingest flags posted invoices exported in Coupa, from ``deltek.results``,
with the real broker, Postgres and ingest against the Coupa simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.ingest.inbox import accept_many
from services.ingest.poller import Poller
from shared.coupa.config import DEFAULT_SCOPES
from shared.db.pool import Pool, create_pool
from shared.kafka.envelope import Envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics
from shared.messages import INVOICE_POSTED, InvoicePosted, invoice_job_id
from tests.integration.ingest.conftest import CONNECTION, IngestRig, StartRig, sim_client
from tests.support import committed_offsets, eventually

QUIET = "quiet"  # a connection that leaves the setting at its default
LATER = "2030-01-01T00:00:00-07:00"


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(db_url)
    await pool.execute(
        "INSERT INTO connections (name, settings) VALUES ($1, $2), ($3, $4)",
        CONNECTION,
        {"coupa": {"mark_exported": True}},
        QUIET,
        {"coupa": {}},
    )
    yield pool
    await pool.close()


def _approved_unexported(rig: IngestRig, count: int) -> list[int]:
    return [
        i["id"]
        for i in rig.sim_store.collections["invoices"].values()
        if i["status"] == "approved" and not i["exported"]
    ][:count]


async def _post(publisher: Publisher, topics: Topics, connection: str, invoice_id: int) -> None:
    """What the poster's report publishes once a voucher is entered."""
    key = invoice_job_id(connection, invoice_id)
    result = InvoicePosted(
        job_id=key,
        record_key=key,
        batch="CPA-1",
        master_pkey="1",
        outcome="created",
        posted=False,
        voucher=f"V{invoice_id}",
    )
    envelope = Envelope(
        schema=INVOICE_POSTED,
        connection=connection,
        key=key,
        source="poll",
        payload=result.model_dump(mode="json"),
    )
    await publisher.publish(topics.deltek_results, envelope)


async def _events(pool: Pool, connection: str, invoice_id: int) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """SELECT event, details FROM audit_events
            WHERE record_key = $1 AND service = 'ingest' AND event <> 'result_received'
            ORDER BY id""",
        invoice_job_id(connection, invoice_id),
    )
    return [{"event": row["event"], **row["details"]} for row in rows]


async def _handled(rig: IngestRig, topics: Topics, kafka_bootstrap: str, count: int) -> None:
    """Wait until the export group has committed ``count`` results."""
    group = f"{topics.prefix}connector-ingest-exports"

    async def done() -> bool:
        return await committed_offsets(kafka_bootstrap, group, topics.deltek_results) >= count

    await eventually(done, within=60, what=f"{count} results handled by the export group")


async def _retries(rig: IngestRig, topics: Topics) -> float:
    """How often the export group retried a result, from ingest's own metrics."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(await rig.metrics())
        for sample in family.samples
        if sample.name == "connector_messages_total"
        and sample.labels == {"topic": topics.deltek_results, "outcome": "retry"}
    )


async def _puts(rig: IngestRig) -> int:
    return sum(n for call, n in (await rig.coupa_calls()).items() if call.startswith("PUT "))


async def test_marked_once_though_the_result_arrives_twice_and_never_when_off(
    rig: IngestRig, pool: Pool, publisher: Publisher, topics: Topics, kafka_bootstrap: str
) -> None:
    marked, untouched = _approved_unexported(rig, 2)
    await _post(publisher, topics, QUIET, untouched)
    await _post(publisher, topics, CONNECTION, marked)
    await _post(publisher, topics, CONNECTION, marked)
    await _handled(rig, topics, kafka_bootstrap, 3)

    assert rig.sim_store.get("invoices", marked)["exported"] is True
    assert rig.sim_store.get("invoices", untouched)["exported"] is False
    assert await _puts(rig) == 1
    events = await _events(pool, CONNECTION, marked)
    assert [(e["event"], e["outcome"], e["voucher"]) for e in events] == [
        ("exported_in_coupa", "marked", f"V{marked}")
    ]
    assert await _events(pool, QUIET, untouched) == []
    metrics = await rig.metrics()
    for outcome in ("marked", "already_marked"):
        assert (
            f'connector_coupa_exports_total{{connection="{CONNECTION}",outcome="{outcome}"}} 1.0'
            in metrics
        )


async def test_coupa_errors_are_retried_and_a_refusal_is_audited_and_passed(
    rig: IngestRig, pool: Pool, publisher: Publisher, topics: Topics, kafka_bootstrap: str
) -> None:
    """Six 503s outlast the client's five attempts, so the consumer loop retries the message
    too; an invoice Coupa does not know (404) is audited as refused and the next one is still
    marked, with nothing dead-lettered."""
    first, second = _approved_unexported(rig, 2)
    async with rig.client.session.post(
        f"{rig.sim_url}/_admin/faults", json={"server_errors": {"count": 6}}
    ) as answer:
        assert answer.status == 200
    await _post(publisher, topics, CONNECTION, first)
    await _handled(rig, topics, kafka_bootstrap, 1)
    assert rig.sim_store.get("invoices", first)["exported"] is True
    async with rig.client.session.get(f"{rig.sim_url}/_admin/faults") as answer:
        assert sum((await answer.json())["injected"].values()) == 6

    unknown = 1
    await _post(publisher, topics, CONNECTION, unknown)
    await _post(publisher, topics, CONNECTION, second)
    await _handled(rig, topics, kafka_bootstrap, 3)
    assert rig.sim_store.get("invoices", second)["exported"] is True
    refused = await _events(pool, CONNECTION, unknown)
    assert [(e["event"], e["coupa_status"]) for e in refused] == [("export_refused_by_coupa", 404)]
    metrics = await rig.metrics()
    assert f'connector_coupa_exports_total{{connection="{CONNECTION}",outcome="refused"}}' in (
        metrics
    )
    assert 'outcome="dead_lettered"' not in metrics


async def test_a_refused_credential_waits_for_the_fix_and_is_never_audited_as_refused(
    rig: IngestRig, pool: Pool, publisher: Publisher, topics: Topics, kafka_bootstrap: str
) -> None:
    """The PUT answers 401 even to a fresh token (the client's own re-mint included): that is
    an outage of our credentials, so the message is retried until Coupa takes the flag."""
    (invoice_id,) = _approved_unexported(rig, 1)
    plan = {"unauthorized": {"after": 1, "count": 4}}  # the GET passes, the PUT twice refused
    async with rig.client.session.post(f"{rig.sim_url}/_admin/faults", json=plan) as answer:
        assert answer.status == 200
    await _post(publisher, topics, CONNECTION, invoice_id)
    await _handled(rig, topics, kafka_bootstrap, 1)

    assert rig.sim_store.get("invoices", invoice_id)["exported"] is True
    async with rig.client.session.get(f"{rig.sim_url}/_admin/faults") as answer:
        assert (await answer.json())["injected"] == {"unauthorized": 4}
    events = await _events(pool, CONNECTION, invoice_id)
    assert [(e["event"], e["outcome"]) for e in events] == [("exported_in_coupa", "marked")]
    assert await _retries(rig, topics) >= 2
    assert 'outcome="refused"' not in await rig.metrics()


async def test_a_missing_scope_waits_until_the_connection_has_it(
    start_rig: StartRig,
    pool: Pool,
    publisher: Publisher,
    topics: Topics,
    kafka_bootstrap: str,
) -> None:
    """A token without ``core.invoice.write`` gets 403 for the PUT: retried, not refused, and
    the flag is set once the connection's client has the scope."""
    scoped = tuple(s for s in DEFAULT_SCOPES if s != "core.invoice.write")
    rig = await start_rig(scopes=scoped)
    (invoice_id,) = _approved_unexported(rig, 1)
    await _post(publisher, topics, CONNECTION, invoice_id)

    async def retried() -> bool:
        return await _retries(rig, topics) >= 2

    await eventually(retried, within=60, what="the 403 retried")
    assert rig.sim_store.get("invoices", invoice_id)["exported"] is False
    assert await _events(pool, CONNECTION, invoice_id) == []

    async with AsyncExitStack() as stack:
        rig.directory.client = sim_client(stack, rig.sim_url)  # the scope added to the client
        await _handled(rig, topics, kafka_bootstrap, 1)
    assert rig.sim_store.get("invoices", invoice_id)["exported"] is True
    events = await _events(pool, CONNECTION, invoice_id)
    assert [(e["event"], e["outcome"]) for e in events] == [("exported_in_coupa", "marked")]


async def test_the_poll_skips_the_version_our_flag_made_but_not_a_later_change(
    rig: IngestRig, pool: Pool, publisher: Publisher, topics: Topics, kafka_bootstrap: str
) -> None:
    marked, voided = _approved_unexported(rig, 2)
    poller = Poller(
        pool, rig.directory, on_accepted=lambda: None, first_lookback=timedelta(days=3650)
    )
    await poller.poll(CONNECTION)
    for invoice_id in (marked, voided):
        await _post(publisher, topics, CONNECTION, invoice_id)
    await _handled(rig, topics, kafka_bootstrap, 2)
    voided_record = rig.sim_store.get("invoices", voided)
    voided_record["status"] = "voided"  # after the flag: a change the poll must still find
    voided_record["updated-at"] = LATER  # Coupa's seconds: not the second the flag made
    await poller.poll(CONNECTION)

    versions = {
        int(row["coupa_id"]): row["versions"]
        for row in await pool.fetch(
            """SELECT coupa_id, array_agg(version) AS versions FROM coupa_inbox
                WHERE connection = $1 AND coupa_id = ANY($2::text[]) GROUP BY coupa_id""",
            CONNECTION,
            [str(marked), str(voided)],
        )
    }
    assert rig.sim_store.get("invoices", marked)["updated-at"] not in versions[marked]
    assert len(versions[marked]) == 1
    assert voided_record["updated-at"] in versions[voided]


async def test_a_flag_over_an_unseen_change_is_not_skipped(
    rig: IngestRig, pool: Pool, publisher: Publisher, topics: Topics, kafka_bootstrap: str
) -> None:
    """Changed in Coupa between posting and the flag, before any poll read it: the version the
    flag made carries that change, so the poll must fetch it."""
    (invoice_id,) = _approved_unexported(rig, 1)
    record = rig.sim_store.get("invoices", invoice_id)
    async with pool.acquire() as conn:
        await accept_many(conn, CONNECTION, "invoice", [dict(record)], "poll")
    record["supplier-note"] = "changed after posting"
    record["updated-at"] = LATER
    await _post(publisher, topics, CONNECTION, invoice_id)
    await _handled(rig, topics, kafka_bootstrap, 1)

    (event,) = await _events(pool, CONNECTION, invoice_id)
    assert event["made_version"] is None
    await Poller(
        pool, rig.directory, on_accepted=lambda: None, first_lookback=timedelta(days=3650)
    ).poll(CONNECTION)
    held = await pool.fetchval(
        "SELECT count(*) FROM coupa_inbox WHERE connection = $1 AND coupa_id = $2 AND version = $3",
        CONNECTION,
        str(invoice_id),
        rig.sim_store.get("invoices", invoice_id)["updated-at"],
    )
    assert held == 1
