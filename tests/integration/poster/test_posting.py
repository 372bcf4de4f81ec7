"""The poster against real Postgres, the broker and the Deltek simulator over HTTP."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import orjson
import pytest

from shared.deltek.keys import batch_name, master_pkey
from shared.kafka.consumer import TransientError
from shared.kafka.envelope import Envelope
from shared.messages import INVOICE_POSTED, WRITE_FAILED
from simulators.deltek.store import Batch
from tests.integration.poster.conftest import (
    PERIOD,
    active_vendor,
    coords_of,
    envelope_of,
    make_command,
    our_batches,
    store_record,
)
from tests.support import read_topic

pytestmark = pytest.mark.integration


async def results(kafka_bootstrap, topics, expect):
    raw = await read_topic(kafka_bootstrap, topics.deltek_results, expect=expect, within=10)
    return [Envelope.decode(value) for value in raw]


async def handle(handler, topics, command):
    await handler(envelope_of(command), coords_of(topics))


async def test_a_command_becomes_one_voucher_and_invoice_posted(
    sim, pool, topics, kafka_bootstrap, make_handler
):
    command = make_command(active_vendor(sim))
    record_id = await store_record(pool, command)
    await handle(make_handler(), topics, command)

    (batch,) = our_batches(sim).values()
    assert batch.control["Batch"] == batch_name(command.job_id)
    assert batch.control["Period"] == PERIOD
    (master,) = batch.masters
    assert (master["Vendor"], master["Invoice"]) == (command.vendor, command.invoice_number)
    assert master["MasterPKey"] == master_pkey(command.job_id)
    assert master["Voucher"].isdigit()  # assigned by Deltek (deltek-api.md §3.D)
    lines = [(d["Account"], d["Amount"], d.get("PONumber")) for d in batch.details]
    assert lines == [
        ("513.00", Decimal("1500.00"), "PO-77120"),
        ("642.00", Decimal("350.00"), None),
    ]
    assert batch.control["Posted"] == "N"

    (result,) = await results(kafka_bootstrap, topics, 1)
    assert result.schema_name == INVOICE_POSTED
    assert result.key == command.record_key
    assert result.payload["outcome"] == "created"
    assert result.payload["posted"] is False
    assert result.payload["voucher"] == master["Voucher"]

    record = await pool.fetchrow("SELECT state, deltek_ref FROM records WHERE id = $1", record_id)
    assert record["state"] == "posted"
    assert record["deltek_ref"] == f"{batch.control['Batch']}/{master['Voucher']}"
    ledger = await pool.fetchrow("SELECT * FROM posting_ledger")
    assert (ledger["state"], ledger["voucher"], ledger["lease_until"]) == (
        "posted",
        master["Voucher"],
        None,
    )
    events = await pool.fetch("SELECT event, details FROM audit_events ORDER BY id")
    assert [e["event"] for e in events] == ["posting", "entered", "posted"]
    entered = events[1]["details"]
    assert entered["request"]["apMaster"][0]["Vendor"] == command.vendor
    assert "Voucher" not in entered["request"]["apMaster"][0]
    assert entered["voucher"] == master["Voucher"]
    assert entered["response"]["apControl"]["Batch"] == batch.control["Batch"]
    assert "sim-secret" not in orjson.dumps([e["details"] for e in events]).decode()


async def test_redelivery_finds_the_ledger_and_books_nothing_more(
    sim, pool, topics, kafka_bootstrap, make_handler
):
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    handler = make_handler()
    await handle(handler, topics, command)
    writes = sim.faults.writes
    await handle(handler, topics, command)

    assert len(our_batches(sim)) == 1
    assert sim.faults.writes == writes
    first, again = await results(kafka_bootstrap, topics, 2)
    assert (first.payload["outcome"], again.payload["outcome"]) == ("created", "already_posted")
    assert again.payload["voucher"] == first.payload["voucher"]


async def test_two_posters_racing_on_one_job_book_it_once(
    sim, pool, topics, kafka_bootstrap, make_handler
):
    await sim.set_faults(latency_ms=50)
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    first, second = make_handler("poster-a"), make_handler("poster-b")
    outcomes = await asyncio.gather(
        handle(first, topics, command), handle(second, topics, command), return_exceptions=True
    )
    busy = [o for o in outcomes if isinstance(o, TransientError)]
    assert len(busy) == 1, outcomes
    assert "in another poster's hands" in str(busy[0])
    await handle(second, topics, command)  # the consumer loop's retry

    (batch,) = our_batches(sim).values()
    assert len(batch.masters) == 1
    got = await results(kafka_bootstrap, topics, 2)
    assert sorted(r.payload["outcome"] for r in got) == ["already_posted", "created"]


@pytest.mark.parametrize("mode", ["disconnect", "gateway_timeout"])
async def test_a_lost_answer_is_looked_up_never_resent(
    sim, pool, topics, kafka_bootstrap, make_handler, mode
):
    # Writes the simulator counts: the token grant, then the voucher POST, whose answer is lost.
    await sim.set_faults(lost_answer={"after": 1, "count": 1}, lost_answer_mode=mode)
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    await handle(make_handler(), topics, command)

    assert sim.faults.writes == 2  # one grant and the one POST, committed; no blind second one
    assert sim.faults.injected == {"lost_answer": 1}
    (batch,) = our_batches(sim).values()
    assert len(batch.masters) == 1
    (result,) = await results(kafka_bootstrap, topics, 1)
    assert result.payload["outcome"] == "created"
    assert result.payload["voucher"] == batch.masters[0]["Voucher"]  # as Deltek assigned it


async def test_a_lost_answer_not_yet_visible_is_retried_later_with_a_look_up_first(
    sim, pool, topics, make_handler
):
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    state = sim.state.store
    hidden: dict[str, Batch] = {}

    async def slow_commit(_seconds: float) -> None:
        # Deltek has not shown the voucher yet: the look-ups after the lost answer see nothing.
        hidden.update({k: state.batches.pop(k) for k in list(state.batches) if k.startswith("CP")})

    handler = make_handler(sleep=slow_commit)
    await sim.set_faults(lost_answer={"after": 1, "count": 1})
    with pytest.raises(TransientError, match="outcome unknown"):
        await handle(handler, topics, command)
    ledger = await pool.fetchrow("SELECT state, lease_until, last_error FROM posting_ledger")
    assert (ledger["state"], ledger["lease_until"]) == ("claimed", None)
    assert "outcome unknown" in ledger["last_error"]

    state.batches.update(hidden)  # now it shows
    await handle(make_handler(), topics, command)
    assert sim.faults.writes == 2  # the grant and the one POST: the retry looked up first
    assert len(our_batches(sim)[batch_name(command.job_id)].masters) == 1


async def test_throttling_and_server_errors_are_waited_out(sim, pool, topics, make_handler):
    await sim.set_faults(
        throttle={"after": 0, "count": 2},
        throttle_retry_after=0,
        server_errors={"after": 3, "count": 2},
    )
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    await handle(make_handler(), topics, command)
    assert sim.faults.injected == {"throttle": 2, "server_error": 2}
    assert len(sim.sleeps) >= 4
    assert len(our_batches(sim)) == 1


async def test_an_outage_longer_than_the_client_retries_releases_the_lease(
    sim, pool, topics, make_handler
):
    await sim.set_faults(server_errors={"after": 0, "count": 1000})
    command = make_command(active_vendor(sim))
    record_id = await store_record(pool, command)
    with pytest.raises(TransientError, match="Deltek unavailable"):
        await handle(make_handler("poster-a"), topics, command)
    ledger = await pool.fetchrow("SELECT state, lease_until, last_error FROM posting_ledger")
    assert ledger["lease_until"] is None
    assert "503" in ledger["last_error"]
    assert await pool.fetchval("SELECT state FROM records WHERE id = $1", record_id) == "posting"

    await sim.set_faults()
    await handle(make_handler("poster-b"), topics, command)  # another poster, at once
    assert len(our_batches(sim)) == 1


async def test_a_401_mid_run_refreshes_the_token_and_goes_on(
    sim, pool, topics, make_handler, connections
):
    await sim.set_faults(unauthorized={"after": 1, "count": 1})
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    await handle(make_handler(), topics, command)
    assert sim.faults.injected == {"unauthorized": 1}
    assert connections.clients["acme"].auth.grants == 2
    assert len(our_batches(sim)) == 1


async def test_post_batches_posts_and_a_posted_job_without_ledger_row_is_recognised(
    sim, pool, topics, kafka_bootstrap, make_handler, connections
):
    connections.posting = connections.posting.model_copy(update={"post_batches": True})
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    await handle(make_handler(), topics, command)

    batch_id = batch_name(command.job_id)
    ledger_rows = [r for r in sim.state.store.ledger if r["Batch"] == batch_id]
    assert sorted(r["Amount"] for r in ledger_rows) == [Decimal("350.00"), Decimal("1500.00")]
    (posted,) = await results(kafka_bootstrap, topics, 1)
    assert posted.payload["posted"] is True
    assert posted.payload["period"] == PERIOD
    assert posted.payload["post_seq"] == str(ledger_rows[0]["PostSeq"])
    row = await pool.fetchrow("SELECT state, post_seq, period FROM posting_ledger")
    assert (row["state"], row["post_seq"], row["period"]) == (
        "posted",
        posted.payload["post_seq"],
        PERIOD,
    )

    # Our ledger row is lost and, as on a real tenant, the posted batch left the entry tables.
    await pool.execute("DELETE FROM posting_ledger")
    del sim.state.store.batches[batch_id]
    writes = sim.faults.writes
    await handle(make_handler(), topics, command)

    assert sim.faults.writes == writes
    assert batch_id not in sim.state.store.batches
    assert len([r for r in sim.state.store.ledger if r["Batch"] == batch_id]) == 2
    _, again = await results(kafka_bootstrap, topics, 2)
    assert again.payload["outcome"] == "already_posted"
    assert again.payload["posted"] is True
    assert again.payload["post_seq"] == posted.payload["post_seq"]


async def test_an_entered_batch_is_posted_on_the_next_attempt(
    sim, pool, topics, make_handler, connections
):
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    await handle(make_handler(), topics, command)  # entered only
    await pool.execute("UPDATE posting_ledger SET state = 'entered'")
    connections.posting = connections.posting.model_copy(update={"post_batches": True})
    await handle(make_handler(), topics, command)
    assert sim.state.store.batches[batch_name(command.job_id)].control["Posted"] == "Y"
    assert len(sim.state.store.batches[batch_name(command.job_id)].masters) == 1


async def test_changed_after_posting_is_flagged_not_booked_again(
    sim, pool, topics, kafka_bootstrap, make_handler
):
    vendor = active_vendor(sim)
    first = make_command(vendor)
    await store_record(pool, first)
    await handle(make_handler(), topics, first)
    changed = make_command(vendor, version="2026-06-07T10:00:00Z", amounts=("1600.00", "350.00"))
    changed_id = await store_record(pool, changed)
    await handle(make_handler(), topics, changed)

    (batch,) = our_batches(sim).values()
    assert len(batch.masters) == 1
    assert sum(d["Amount"] for d in batch.details) == Decimal("1850.00")
    record = await pool.fetchrow("SELECT state, last_error FROM records WHERE id = $1", changed_id)
    assert record["state"] == "flagged"
    assert "never reverses" in record["last_error"]
    details = await pool.fetchval(
        "SELECT details FROM audit_events WHERE record_id = $1 AND event = 'flagged'", changed_id
    )
    assert details["sent_content_hash"] == first.content_hash()
    assert details["new_content_hash"] == changed.content_hash()
    assert (details["sent_total"], details["new_total"]) == ("1850.00", "1950.00")
    _, flagged = await results(kafka_bootstrap, topics, 2)
    assert flagged.schema_name == WRITE_FAILED
    assert flagged.payload["kind"] == "flagged"
    assert await pool.fetchval("SELECT state FROM posting_ledger") == "posted"


async def test_an_older_version_is_superseded_by_a_newer_stored_one(
    sim, pool, topics, make_handler
):
    vendor = active_vendor(sim)
    older = make_command(vendor, version="2026-06-05T10:00:00Z")
    newer = make_command(vendor, version="2026-06-06T10:00:00Z")
    older_id = await store_record(pool, older)
    await store_record(pool, newer)
    await handle(make_handler(), topics, older)
    assert await pool.fetchval("SELECT state FROM records WHERE id = $1", older_id) == "superseded"
    assert our_batches(sim) == {}
    assert await pool.fetchval("SELECT count(*) FROM posting_ledger") == 0


async def test_an_invoice_booked_in_a_batch_we_did_not_create_is_flagged(
    sim, pool, topics, kafka_bootstrap, make_handler
):
    seeded = sim.state.store.ledger[0]  # posted by someone else, e.g. keyed in by hand
    command = make_command(seeded["Vendor"], invoice_number=seeded["Invoice"])
    record_id = await store_record(pool, command)
    handler = make_handler()
    await handle(handler, topics, command)

    assert our_batches(sim) == {}
    record = await pool.fetchrow("SELECT state, last_error FROM records WHERE id = $1", record_id)
    assert record["state"] == "flagged"
    assert f"in batch {seeded['Batch']}" in record["last_error"]
    assert await pool.fetchval("SELECT state FROM posting_ledger") == "parked"
    (failed,) = await results(kafka_bootstrap, topics, 1)
    assert (failed.schema_name, failed.payload["kind"]) == (WRITE_FAILED, "flagged")
    assert handler.deps.metrics.jobs.labels("acme", "flagged")._value.get() == 1


async def test_a_live_lease_left_by_a_killed_poster_is_taken_over_at_once(
    sim, pool, topics, kafka_bootstrap, make_handler
):
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    # What a poster killed mid-job leaves: a claimed row whose lease runs for ten more minutes,
    # and no advisory lock (its database session died with it).
    await pool.execute(
        """INSERT INTO posting_ledger (job_id, connection, record_key, content_hash, state, batch,
                                       master_pkey, owner, lease_until)
           VALUES ($1, $2, $3, $4, 'claimed', $5, $6, 'killed-poster',
                   now() + interval '10 min')""",
        command.job_id,
        command.connection,
        command.record_key,
        command.content_hash(),
        batch_name(command.job_id),
        master_pkey(command.job_id),
    )
    await handle(make_handler("poster-b"), topics, command)
    (batch,) = our_batches(sim).values()
    assert len(batch.masters) == 1
    (result,) = await results(kafka_bootstrap, topics, 1)
    assert result.payload["outcome"] == "created"
