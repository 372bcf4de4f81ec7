"""The stuck-rebalance limit must outlast a healthy one: the rebalance timeout plus a drain."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import Settings


def test_the_defaults_leave_room_for_a_healthy_rebalance():
    settings = Settings()
    assert settings.consumer.stuck_rebalance_seconds > settings.consumer.drain_seconds + 20


@pytest.mark.parametrize("stuck", ["30", "25"])
def test_a_stuck_limit_within_timeout_plus_drain_is_refused_naming_both(monkeypatch, stuck):
    monkeypatch.setenv("CONNECTOR_CONSUMER__STUCK_REBALANCE_SECONDS", stuck)
    monkeypatch.setenv("CONNECTOR_CONSUMER__DRAIN_SECONDS", "10")
    monkeypatch.setenv("CONNECTOR_KAFKA__MAX_POLL_INTERVAL_MS", "20000")
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    assert f"consumer.stuck_rebalance_seconds ({stuck})" in message
    assert "consumer.drain_seconds (10)" in message
    assert "kafka.max_poll_interval_ms / 1000 (20), 30 s" in message


def test_a_stuck_limit_just_past_timeout_plus_drain_is_taken(monkeypatch):
    monkeypatch.setenv("CONNECTOR_CONSUMER__STUCK_REBALANCE_SECONDS", "30.5")
    monkeypatch.setenv("CONNECTOR_CONSUMER__DRAIN_SECONDS", "10")
    monkeypatch.setenv("CONNECTOR_KAFKA__MAX_POLL_INTERVAL_MS", "20000")
    assert Settings().consumer.stuck_rebalance_seconds == 30.5
