"""The poster against a simulator that behaves like a real tenant (deltek-api.md §3.D), and
against its other readings: voucher numbers assigned or entered, batch answers without nested
vouchers, and the AP ledger's invoice column found out, fixed, or missing."""

from __future__ import annotations

from typing import Any

import pytest

from services.cli.audit_cmd import story
from shared.deltek.keys import batch_name, voucher_number
from shared.kafka.consumer import TransientError
from shared.messages import INVOICE_POSTED, WRITE_FAILED
from shared.tenant_facts import LEDGER_INVOICE_COLUMN
from simulators.deltek.entry import VOUCHER_ENTRY_REFUSED
from tests.integration.poster.conftest import active_vendor, make_command, our_batches, store_record
from tests.integration.poster.test_posting import handle, results

pytestmark = pytest.mark.integration


def tenant(sim, **options: Any) -> None:
    """Switch the simulated tenant's settings, as ``POST /_admin/options`` would."""
    sim.state.options = sim.state.options.model_copy(update=options)


def posting(connections, **settings: Any) -> None:
    connections.posting = connections.posting.model_copy(update=settings)


async def voucher_everywhere(pool, kafka_bootstrap, topics, command, voucher: str) -> None:
    """The voucher number Deltek holds is on the ledger, the record, its story and the result."""
    batch = batch_name(command.job_id)
    assert await pool.fetchval("SELECT voucher FROM posting_ledger") == voucher
    record = await pool.fetchrow("SELECT id, state, deltek_ref FROM records")
    assert (record["state"], record["deltek_ref"]) == ("posted", f"{batch}/{voucher}")
    events = await pool.fetch(
        "SELECT event, details FROM audit_events WHERE record_id = $1 ORDER BY id", record["id"]
    )
    assert {e["event"]: e["details"].get("voucher") for e in events}["entered"] == voucher
    assert {e["event"]: e["details"].get("voucher") for e in events}["posted"] == voucher
    async with pool.acquire() as conn:
        told = await story(conn, command.record_key)
    assert f"Deltek {batch}/{voucher}" in told
    assert told.count(f'"voucher":"{voucher}"') >= 2  # the entered and posted events' lines
    (result,) = await results(kafka_bootstrap, topics, 1)
    assert (result.schema_name, result.payload["voucher"]) == (INVOICE_POSTED, voucher)


@pytest.mark.parametrize("batch_read", ["header", "nested"])
async def test_the_voucher_number_deltek_assigns_is_read_back_and_kept(
    sim, pool, topics, kafka_bootstrap, make_handler, batch_read
):
    """§3.D by default: Voucher left out, the assigned number read from apMaster/{batch}
    whether or not the batch answer nests it."""
    tenant(sim, batch_read=batch_read)
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    await handle(make_handler(), topics, command)
    (batch,) = our_batches(sim).values()
    (master,) = batch.masters
    assert master["Voucher"].isdigit()
    assert master["Voucher"] != voucher_number(command.job_id)
    await voucher_everywhere(pool, kafka_bootstrap, topics, command, master["Voucher"])


async def test_our_voucher_numbers_where_the_company_requires_entry(
    sim, pool, topics, kafka_bootstrap, make_handler, connections
):
    """§3.D option: the tenant requires entry, the connection says ``ours``."""
    tenant(sim, voucher_numbers="entry_required")
    posting(connections, voucher_numbers="ours")
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    await handle(make_handler(), topics, command)
    (batch,) = our_batches(sim).values()
    assert batch.masters[0]["Voucher"] == voucher_number(command.job_id)
    await voucher_everywhere(pool, kafka_bootstrap, topics, command, voucher_number(command.job_id))


@pytest.mark.parametrize(
    ("tenant_numbers", "ours", "message"),
    [
        ("assigned", "ours", VOUCHER_ENTRY_REFUSED.format(company="01")),
        ("entry_required", "assigned", "Please provide a Voucher for table apMaster."),
    ],
)
async def test_a_voucher_setting_the_tenant_disagrees_with_parks_with_its_words(
    sim, pool, topics, make_handler, connections, tenant_numbers, ours, message
):
    tenant(sim, voucher_numbers=tenant_numbers)
    posting(connections, voucher_numbers=ours)
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    await handle(make_handler(), topics, command)
    assert our_batches(sim) == {}
    reason = await pool.fetchval("SELECT parked_reason FROM records")
    assert reason == f"Deltek refused the voucher: {message}"


async def test_an_entry_the_lost_ledger_did_not_know_is_caught_and_never_posted(
    sim, pool, topics, kafka_bootstrap, make_handler, connections
):
    """§3.C: our ledger row lost (a restored database), the job looks new, so its batch is not
    looked up first; the tenant appends the second entry to the batch, the read-back sees two
    vouchers, and the record is flagged with the batch left unposted: nothing booked twice."""
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    await handle(make_handler(), topics, command)
    await pool.execute("DELETE FROM posting_ledger")
    connections.posting = connections.posting.model_copy(update={"post_batches": True})
    await handle(make_handler(), topics, command)

    (batch,) = our_batches(sim).values()
    assert len(batch.masters) == 2
    assert batch.control["Posted"] == "N"
    _, flagged = await results(kafka_bootstrap, topics, 2)
    assert flagged.schema_name == WRITE_FAILED
    assert flagged.payload["kind"] == "flagged"
    assert "holds 2 vouchers" in flagged.payload["reason"]
    assert await pool.fetchval("SELECT state FROM posting_ledger") == "parked"

    # The clerk deletes the extra voucher and replays: the batch is found and posted once.
    batch.masters.pop()
    await handle(make_handler(), topics, command)
    assert batch.control["Posted"] == "Y"
    assert await pool.fetchval("SELECT state FROM posting_ledger") == "posted"


async def test_a_tenant_refusing_a_second_entry_of_a_batch_is_looked_up(
    sim, pool, topics, kafka_bootstrap, make_handler
):
    """§3.C, §3.D: where Deltek refuses a second POST of an existing batch, the refusal is
    looked up: the batch is ours, its voucher read from apMaster/{batch}, nothing parked."""
    async with sim.http.post(f"{sim.url}/_admin/options", json={"duplicate_batch": "reject"}):
        pass
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    await handle(make_handler(), topics, command)
    await pool.execute("DELETE FROM posting_ledger")
    await handle(make_handler(), topics, command)

    (batch,) = our_batches(sim).values()
    assert len(batch.masters) == 1
    first, again = await results(kafka_bootstrap, topics, 2)
    assert again.schema_name == INVOICE_POSTED
    assert first.payload["voucher"] == again.payload["voucher"] == batch.masters[0]["Voucher"]


@pytest.mark.parametrize("column", ["Invoice", "InvoiceNumber"])
async def test_the_ledger_invoice_column_is_found_out_once_and_a_posted_invoice_seen(
    sim, pool, topics, kafka_bootstrap, make_handler, connections, column
):
    """§3.C, §3.D: the poster asks the tenant which column holds the vendor's invoice, keeps
    the answer, and with it recognises a posted invoice whose batch left the entry tables."""
    tenant(sim, ledger_invoice_key=column)
    posting(connections, post_batches=True)
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    await handle(make_handler(), topics, command)
    fact = await pool.fetchrow("SELECT fact, value FROM tenant_facts")
    assert (fact["fact"], fact["value"]) == (LEDGER_INVOICE_COLUMN, column)

    await pool.execute("DELETE FROM posting_ledger")
    del sim.state.store.batches[batch_name(command.job_id)]
    writes = sim.faults.writes
    await handle(make_handler(), topics, command)
    assert sim.faults.writes == writes  # found posted: not entered again
    first, again = await results(kafka_bootstrap, topics, 2)
    assert again.payload["outcome"] == "already_posted"
    assert again.payload["voucher"] == first.payload["voucher"]


async def test_a_ledger_column_the_tenant_lacks_stops_the_connection_not_one_record(
    sim, pool, topics, make_handler, connections
):
    """§3.D: "field does not exist" is a configuration error: never "not posted" (nothing is
    entered), never a parked record; the connection needs a person, every job of it waits with
    the reason told once, and all go on once the setting is fixed and applied."""
    tenant(sim, ledger_invoice_key="InvoiceNumber")
    posting(connections, ledger_invoice_column="Invoice")
    vendor = active_vendor(sim)
    first, second = make_command(vendor, coupa_id=1), make_command(vendor, coupa_id=2)
    for command in (first, second):
        await store_record(pool, command)
    for _ in range(2):
        with pytest.raises(TransientError, match="needs a person") as caught:
            await handle(make_handler(), topics, first)
    assert "no column Invoice" in str(caught.value)
    assert "deltek.ledger_invoice_column" in str(caught.value)
    calls = sim.faults.calls
    with pytest.raises(TransientError, match="needs a person"):
        await handle(make_handler(), topics, second)
    assert sim.faults.calls == calls  # failed fast: the connection is stopped

    assert our_batches(sim) == {}
    states = await pool.fetch("SELECT state, last_error FROM posting_ledger ORDER BY job_id")
    assert [s["state"] for s in states] == ["claimed", "claimed"]
    assert all("no column Invoice" in s["last_error"] for s in states)
    assert [r["state"] for r in await pool.fetch("SELECT state FROM records")] == ["posting"] * 2
    waiting = await pool.fetch(
        "SELECT record_key, details FROM audit_events WHERE event = 'waiting' ORDER BY id"
    )
    assert [w["record_key"] for w in waiting] == [first.record_key, second.record_key]
    assert "no column Invoice" in waiting[0]["details"]["reason"]

    # The fix, applied: the setting changes and the connection's client is rebuilt.
    posting(connections, ledger_invoice_column="InvoiceNumber")
    await connections.close()
    connections.clients.clear()
    for command in (first, second):
        await handle(make_handler(), topics, command)
    assert len(our_batches(sim)) == 2
    assert [r["state"] for r in await pool.fetch("SELECT state FROM records")] == ["posted"] * 2


async def test_a_stored_column_the_tenant_no_longer_has_is_forgotten_and_found_again(
    sim, pool, topics, kafka_bootstrap, make_handler, connections
):
    """§3.D: a column found out earlier that the tenant now refuses stops the connection as
    well, and is forgotten, so the next look-up finds the column out again."""
    client = await connections.client_for("acme")
    await pool.execute(
        "INSERT INTO tenant_facts (connection, fact, tenant, value) VALUES ($1, $2, $3, $4)",
        "acme",
        LEDGER_INVOICE_COLUMN,
        f"{client.config.api}#{client.config.database}",
        "InvoiceNumber",
    )
    command = make_command(active_vendor(sim))
    await store_record(pool, command)
    with pytest.raises(TransientError, match="no column InvoiceNumber \\(found out earlier\\)"):
        await handle(make_handler(), topics, command)
    assert await pool.fetchval("SELECT count(*) FROM tenant_facts") == 0
    assert our_batches(sim) == {}

    client.auth.clear_attention()  # what applying the connection again does
    await handle(make_handler(), topics, command)
    assert await pool.fetchval("SELECT value FROM tenant_facts") == "Invoice"
    assert len(our_batches(sim)) == 1
    (result,) = await results(kafka_bootstrap, topics, 1)
    assert (result.schema_name, result.payload["outcome"]) == (INVOICE_POSTED, "created")
