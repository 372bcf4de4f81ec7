"""Envelope encoding: the wire format of every pipeline message."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from shared.kafka.envelope import Envelope, record_key
from tests.support import invoice_event


def test_round_trip_keeps_every_field_and_uses_the_documented_names():
    event = invoice_event("acme", 12)
    raw = event.encode()
    assert Envelope.decode(raw) == event
    wire = orjson.loads(raw)
    assert set(wire) == {
        "schema",
        "version",
        "event_id",
        "connection",
        "key",
        "occurred_at",
        "source",
        "trace_id",
        "payload",
    }
    assert wire["schema"] == "InvoiceApproved"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"",
        b"{not json",
        b"[]",
        b'{"schema": "X"}',
        orjson.dumps({**orjson.loads(invoice_event("a", 1).encode()), "source": "email"}),
    ],
)
def test_bad_bytes_raise_value_errors(raw):
    with pytest.raises((ValueError, ValidationError)):
        Envelope.decode(raw)


def test_envelopes_are_frozen():
    event = invoice_event("acme", 1)
    with pytest.raises(ValidationError):
        event.connection = "other"


def test_record_key_puts_connection_kind_and_id_in_order():
    assert record_key("acme", "invoice", 17) == "acme:invoice:17"
