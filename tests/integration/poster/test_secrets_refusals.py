"""A refusal whose message quotes a credential or runs long is parked scrubbed everywhere it is
kept or told: the ledger, the record, its audit trail and ``WriteFailed``."""

from __future__ import annotations

import pytest

from shared.kafka.envelope import Envelope
from shared.logs import register_secret
from shared.messages import WRITE_FAILED
from tests.integration.poster.conftest import (
    coords_of,
    envelope_of,
    make_command,
    store_record,
)
from tests.support import read_topic

pytestmark = pytest.mark.integration

SECRET = "poster-refusal-s3cret-value"


async def test_deltek_s_words_are_parked_redacted_and_bounded(
    sim, pool, topics, kafka_bootstrap, make_handler
):
    register_secret(SECRET)
    # The simulator answers "Vendor <vendor> does not exist.", quoting what it was sent.
    command = make_command(f"{SECRET}-" + "V" * 2500, coupa_id=9)
    record_id = await store_record(pool, command)
    await make_handler()(envelope_of(command), coords_of(topics))

    record = await pool.fetchrow(
        "SELECT state, parked_reason, last_error FROM records WHERE id = $1", record_id
    )
    ledger = await pool.fetchval(
        "SELECT last_error FROM posting_ledger WHERE job_id = $1", command.job_id
    )
    audit = await pool.fetchval(
        "SELECT details FROM audit_events WHERE record_id = $1 AND event = 'parked'", record_id
    )
    raw = await read_topic(kafka_bootstrap, topics.deltek_results, expect=1)
    failed = Envelope.decode(raw[0])
    assert failed.schema_name == WRITE_FAILED
    told = [record["parked_reason"], record["last_error"], ledger, failed.payload["reason"]]
    assert record["state"] == "parked"
    for text in [*told, audit["reason"], audit["deltek_message"]]:
        assert SECRET not in text
        assert len(text) <= 2000
    assert len(set(told)) == 1
    assert told[0].startswith("Deltek refused the voucher: Vendor ***-VVV")
    assert told[0].endswith(" more characters)")
