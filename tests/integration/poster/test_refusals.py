"""Deltek refusals park the record with Deltek's words, and the partition goes on."""

from __future__ import annotations

import asyncio

import pytest

from shared.kafka.consumer import ConsumerLoop
from shared.kafka.envelope import Envelope
from shared.messages import INVOICE_POSTED, WRITE_FAILED
from shared.service.metrics import ServiceMetrics
from tests.integration.poster.conftest import (
    active_vendor,
    coords_of,
    envelope_of,
    make_command,
    our_batches,
    store_record,
)
from tests.support import eventually, read_topic

pytestmark = pytest.mark.integration


async def test_a_refused_voucher_is_parked_and_the_next_message_still_handled(
    sim, pool, topics, publisher, kafka_bootstrap, kafka_tuning, consumer_tuning, make_handler
):
    refused = make_command("NOPE", coupa_id=1)
    good = make_command(active_vendor(sim), coupa_id=2)
    refused_id = await store_record(pool, refused)
    good_id = await store_record(pool, good)
    for command in (refused, good):  # one Kafka key: the same partition, in this order
        await publisher.publish_raw(
            topics.deltek_writes, b"acme:invoice:same", envelope_of(command).encode()
        )
    loop = ConsumerLoop(
        bootstrap=kafka_bootstrap,
        group_id=topics.prefix + "poster",
        topics=[topics.deltek_writes],
        handler=make_handler(),
        publisher=publisher,
        metrics=ServiceMetrics("test"),
        kafka=kafka_tuning,
        tuning=consumer_tuning,
    )
    task = asyncio.create_task(loop.run())
    try:

        async def both_done() -> bool:
            states = await pool.fetch("SELECT state FROM records ORDER BY id")
            return [s["state"] for s in states] == ["parked", "posted"]

        await eventually(both_done, within=20, what="both commands handled")
    finally:
        loop.stop()
        await task

    reason = await pool.fetchval("SELECT parked_reason FROM records WHERE id = $1", refused_id)
    assert reason == "Deltek refused the voucher: Vendor NOPE does not exist."
    ledger = await pool.fetchrow(
        "SELECT state, last_error FROM posting_ledger WHERE job_id = $1", refused.job_id
    )
    assert (ledger["state"], ledger["last_error"]) == ("parked", reason)
    audit = await pool.fetchval(
        "SELECT details FROM audit_events WHERE record_id = $1 AND event = 'parked'", refused_id
    )
    assert (audit["deltek_status"], audit["deltek_message"]) == (400, "Vendor NOPE does not exist.")
    assert await pool.fetchval("SELECT state FROM records WHERE id = $1", good_id) == "posted"
    assert len(our_batches(sim)) == 1

    raw = await read_topic(kafka_bootstrap, topics.deltek_results, expect=2)
    failed, posted = (Envelope.decode(r) for r in raw)
    assert (failed.schema_name, failed.payload["kind"]) == (WRITE_FAILED, "parked")
    assert failed.payload["reason"] == reason
    assert posted.schema_name == INVOICE_POSTED


async def test_a_parked_job_goes_through_once_the_cause_is_fixed(
    sim, pool, topics, make_handler, connections
):
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    connections.posting = connections.posting.model_copy(update={"bank_code": "NOBANK"})
    await make_handler()(envelope_of(command), coords_of(topics))
    assert await pool.fetchval("SELECT state FROM posting_ledger") == "parked"
    connections.posting = connections.posting.model_copy(update={"bank_code": "OPER"})
    await make_handler()(envelope_of(command), coords_of(topics))  # a replay
    assert await pool.fetchval("SELECT state FROM posting_ledger") == "posted"
    assert await pool.fetchval("SELECT state FROM records") == "posted"
    assert len(our_batches(sim)) == 1


async def test_a_voucher_for_an_inactive_vendor_parks_saying_so_with_deltek_s_words_kept(
    sim, pool, topics, make_handler
):
    vendor = active_vendor(sim)
    firm = sim.state.store.vendor_firm(vendor)
    assert firm is not None
    firm["Status"] = "I"  # deactivated in Deltek after the mapper's cache last saw it
    command = make_command(vendor)
    record_id = await store_record(pool, command)
    await make_handler()(envelope_of(command), coords_of(topics))

    reason = await pool.fetchval("SELECT parked_reason FROM records WHERE id = $1", record_id)
    assert reason == f"vendor {vendor} is inactive in Deltek"
    audit = await pool.fetchval(
        "SELECT details FROM audit_events WHERE record_id = $1 AND event = 'parked'", record_id
    )
    assert audit["reason"] == reason
    assert (audit["deltek_status"], audit["deltek_message"]) == (
        400,
        f"Vendor {vendor} is inactive.",
    )
    assert our_batches(sim) == {}
