"""The mapper's handler on a real Postgres: map, redeliver, supersede, park, flag."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.messages import POST_AP_INVOICE, PostApInvoice
from tests.integration.mapper.conftest import STRANGER, invoice_envelope

pytestmark = pytest.mark.integration


async def test_an_approved_invoice_is_mapped_and_its_command_published(rig):
    envelope = invoice_envelope()
    await rig.deliver(envelope)
    [(topic, sent)] = rig.sink.sent
    assert (topic, sent.schema_name, sent.key) == ("deltek.writes", POST_AP_INVOICE, envelope.key)
    assert (sent.trace_id, sent.source, sent.connection) == (envelope.trace_id, "webhook", "acme")
    command = PostApInvoice.model_validate(sent.payload)
    assert (command.vendor, command.period, command.total) == ("NWS0001", 202503, Decimal("541.25"))
    assert [(ln.account, ln.wbs1, ln.wbs2, ln.amount) for ln in command.lines] == [
        ("5200", "1001", "100", Decimal("300.00")),
        ("5300", "1001", "100", Decimal("200.00")),
        ("215.00", None, None, Decimal("41.25")),
    ]
    [record] = await rig.records()
    assert (record["state"], record["job_id"]) == ("mapped", "acme:invoice:48213")
    assert record["command"] == sent.payload


async def test_a_redelivery_republishes_the_same_command_and_stores_one_record(rig):
    envelope = invoice_envelope()
    await rig.deliver(envelope)
    await rig.deliver(envelope)
    first, again = (sent for _, sent in rig.sink.sent)
    assert first.payload == again.payload
    assert len(await rig.records()) == 1
    events = await rig.pool.fetch("SELECT event FROM audit_events ORDER BY id")
    assert [e["event"] for e in events] == ["received", "mapped", "redelivered"]


async def test_a_posted_invoice_redelivered_publishes_nothing(rig):
    await rig.deliver(invoice_envelope())
    await rig.pool.execute("UPDATE records SET state = 'posted'")
    await rig.deliver(invoice_envelope())
    assert len(rig.sink.sent) == 1


async def test_an_unknown_supplier_parks_with_a_reason_a_clerk_reads(rig):
    await rig.deliver(invoice_envelope(supplier=STRANGER))
    [record] = await rig.records()
    assert record["state"] == "parked"
    assert record["parked_reason"] == (
        "Coupa supplier V-00900 (Nobody Known LLC) has no Deltek vendor"
    )
    assert record["waiting_for"][0]["kind"] == "supplier"
    assert record["waiting_for"][0]["coupa_value"] == "900"
    assert rig.sink.sent == []


async def test_a_newer_version_supersedes_an_unposted_older_one_in_either_order(rig):
    await rig.deliver(invoice_envelope(supplier=STRANGER))
    await rig.deliver(invoice_envelope(fields={"updated-at": "2025-03-06T09:00:00-08:00"}))
    states = [(r["version"], r["state"]) for r in await rig.records()]
    assert states == [
        ("2025-03-05T16:02:10-08:00", "superseded"),
        ("2025-03-06T09:00:00-08:00", "mapped"),
    ]
    # A late, older version (here an hour older in another offset) is superseded on arrival.
    await rig.deliver(invoice_envelope(fields={"updated-at": "2025-03-06T16:00:00+00:00"}))
    assert (await rig.records())[-1]["state"] == "superseded"
    assert len(rig.sink.sent) == 1


async def test_a_version_voided_or_changed_after_posting_is_flagged_never_reversed(rig):
    await rig.deliver(invoice_envelope())
    command = PostApInvoice.model_validate(rig.sink.sent[0][1].payload)
    await rig.pool.execute(
        """INSERT INTO posting_ledger (job_id, connection, record_key, content_hash, state, batch,
                                       master_pkey, voucher, period)
           VALUES ($1, 'acme', $2, $3, 'posted', 'B', 'M', 'V0042', 202503)""",
        command.job_id,
        command.record_key,
        command.content_hash(),
    )
    await rig.pool.execute("UPDATE records SET state = 'posted'")
    await rig.deliver(
        invoice_envelope(fields={"updated-at": "2025-03-07T00:00:00Z", "exported": True})
    )
    assert (await rig.records())[-1]["state"] == "mapped"  # the same voucher: the poster dedupes

    await rig.deliver(
        invoice_envelope(fields={"updated-at": "2025-03-08T00:00:00Z", "status": "voided"})
    )
    last = (await rig.records())[-1]
    assert last["state"] == "flagged"
    assert last["last_error"] == (
        "Coupa invoice NWS-100482 was voided in Coupa after it was posted to Deltek voucher "
        "V0042; a person must decide; nothing was reversed"
    )
    assert len(rig.sink.sent) == 2


async def test_an_invoice_of_an_unknown_connection_parks(rig):
    await rig.pool.execute("DELETE FROM connections")
    await rig.deliver(invoice_envelope())
    [record] = await rig.records()
    assert record["parked_reason"] == "There is no connection named acme (or it has no settings)"
