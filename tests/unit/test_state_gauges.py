"""Publishing a snapshot of the state gauges replaces the last one whole."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shared.service.state_gauges import Snapshot, StateGauges


def test_a_connection_gone_from_the_snapshot_leaves_the_gauges() -> None:
    registry = CollectorRegistry()
    gauges = StateGauges(registry)
    gauges.publish(
        Snapshot(
            records={("acme", "parked"): 2, ("old", "parked"): 1},
            oldest_parked_seconds={"acme": 60.0, "old": 5.0},
            dead_letters={"deltek.writes": 1},
        ),
        now=1000.0,
    )
    gauges.publish(
        Snapshot(records={("acme", "parked"): 3}, oldest_parked_seconds={"acme": 75.0}),
        now=1015.0,
    )
    value = registry.get_sample_value
    assert value("connector_records", {"connection": "acme", "state": "parked"}) == 3
    assert value("connector_records", {"connection": "old", "state": "parked"}) is None
    assert value("connector_oldest_parked_seconds", {"connection": "old"}) is None
    assert value("connector_dead_letters", {"topic": "deltek.writes"}) is None
    assert value("connector_state_gauges_updated_timestamp_seconds") == 1015.0
