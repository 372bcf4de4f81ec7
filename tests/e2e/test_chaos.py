"""The short chaos run CI does: a few hundred invoices for about a minute under a fault schedule
(services SIGKILLed, broker paused, Postgres killed, Deltek and Coupa misbehaving), judged by the
independent checker. The long run is ``connector chaos`` (see README)."""

from __future__ import annotations

import argparse

import pytest

from devstack import chaos
from services.cli.main import build_parser

pytestmark = pytest.mark.e2e


def test_the_short_chaos_run_books_every_invoice_exactly_once(capsys):
    args: argparse.Namespace = build_parser().parse_args(
        ["chaos", "--invoices", "200", "--seconds", "40", "--every", "2", "--seed", "3"]
    )
    code = chaos.run(args)
    out = capsys.readouterr().out
    assert "chaos: 200 approved, 200 posted once, 0 duplicates, 0 lost" in out, out[-3000:]
    assert "audit trails incomplete: 0" in out
    assert "counts reconcile: yes" in out
    assert "every secret readable under the new key alone: yes" in out
    assert "secrets found in logs, metrics and tables: 0" in out
    assert code == 0
    # The schedule really broke things: at least a kill and some injected simulator faults.
    assert "SIGKILL" in out, out[-3000:]
    assert "injected" in out, out[-3000:]
