"""Deltek Vantagepoint simulator: ``create_app(options)`` for tests, ``cli`` for the shell."""

from __future__ import annotations

from simulators.deltek.app import create_app
from simulators.deltek.options import Credentials, SeedOptions, SimOptions

__all__ = ["Credentials", "SeedOptions", "SimOptions", "create_app"]
