"""Settings from the environment, and how endpoints are found when they are not set."""

from __future__ import annotations

import argparse
import os

import pytest

from devstack.supervisor import Stack, without_password
from shared.db.migrate import discover
from shared.endpoints import (
    Endpoints,
    StackNotFoundError,
    remove_stack,
    resolve_endpoints,
    write_stack,
)
from shared.settings import Settings


def test_documented_flat_names_and_nested_knobs(monkeypatch):
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", "postgresql://u:p@db/x")
    monkeypatch.setenv("CONNECTOR_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("CONNECTOR_HTTP_PORT", "9000")
    monkeypatch.setenv("CONNECTOR_KAFKA__PARTITIONS", "24")
    settings = Settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://u:p@db/x"
    assert "u:p" not in repr(settings)
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.http_port == 9000
    assert settings.kafka.partitions == 24
    assert resolve_endpoints(settings) == Endpoints("postgresql://u:p@db/x", "kafka:9092")


def test_the_admin_port_sits_beside_the_http_port_unless_set(monkeypatch):
    for name in ("CONNECTOR_ADMIN_PORT", "CONNECTOR_ADMIN_HOST", "CONNECTOR_HTTP_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert Settings(http_port=8081).admin_listen_port() == 9081
    assert Settings(http_port=0).admin_listen_port() == 0
    assert Settings().admin_host == "127.0.0.1"
    monkeypatch.setenv("CONNECTOR_ADMIN_PORT", "9300")
    monkeypatch.setenv("CONNECTOR_ADMIN_HOST", "0.0.0.0")
    settings = Settings(http_port=8081)
    assert (settings.admin_host, settings.admin_listen_port()) == ("0.0.0.0", 9300)
    monkeypatch.setenv("CONNECTOR_ADMIN_PORT", "0")
    assert Settings(http_port=8081).admin_listen_port() == 0


def test_the_dev_summary_shows_where_each_services_metrics_are(tmp_path):
    ports = {"ingest": 8081, "mapper": 8082, "poster": 8083, "coupa_sim": 8091, "deltek_sim": 8092}
    args = argparse.Namespace(**{f"{name}_port": port for name, port in ports.items()})
    stack = Stack(args, Settings(state_dir=str(tmp_path)), sims=True)
    stack.endpoints = Endpoints("postgresql://postgres@127.0.0.1:1/connector", "127.0.0.1:2")
    stack.children = stack._children()
    summary = stack.summary()
    for child in stack.services():
        assert child.admin_port is not None and child.admin_port != child.port
        assert child.env["CONNECTOR_ADMIN_PORT"] == str(child.admin_port)
        metrics = f"http://127.0.0.1:{child.admin_port}/metrics"
        assert child.metrics_url == metrics
        assert f"{child.url}  (/healthz /readyz; metrics at {metrics})" in summary
    assert summary.count("/metrics") == 3  # the simulators have none


def test_unset_endpoints_come_from_a_running_stack_or_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.delenv("CONNECTOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("CONNECTOR_KAFKA_BOOTSTRAP", raising=False)
    settings = Settings(state_dir=str(tmp_path))
    with pytest.raises(StackNotFoundError, match="connector dev"):
        resolve_endpoints(settings)
    write_stack(settings, Endpoints("postgresql://pg/x", "127.0.0.1:1"), os.getpid())
    assert resolve_endpoints(settings) == Endpoints("postgresql://pg/x", "127.0.0.1:1")
    remove_stack(settings)
    with pytest.raises(StackNotFoundError):
        resolve_endpoints(settings)


def test_a_stack_file_left_by_a_killed_supervisor_is_ignored(tmp_path):
    settings = Settings(state_dir=str(tmp_path), database_url=None, kafka_bootstrap=None)
    dead_pid = 2**22 + 12345  # above the kernel's pid limit: never a live process
    write_stack(settings, Endpoints("postgresql://pg/x", "127.0.0.1:1"), dead_pid)
    with pytest.raises(StackNotFoundError):
        resolve_endpoints(settings)


def test_passwords_are_not_printed_in_urls():
    assert without_password("postgresql://app:hunter2@db:5432/x") == "postgresql://app@db:5432/x"
    assert (
        without_password("postgresql://postgres@127.0.0.1:1/x")
        == "postgresql://postgres@127.0.0.1:1/x"
    )


def test_shipped_migrations_are_numbered_without_gaps():
    versions = [m.version for m in discover()]
    assert versions == list(range(1, len(versions) + 1))
