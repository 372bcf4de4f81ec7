"""Fixtures: the strict simulators and the database connection of the connections tests."""

from tests.integration.connections.conftest import db, start_sims  # noqa: F401 - fixtures
