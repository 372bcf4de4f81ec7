"""The short chaos runs CI does: a few hundred invoices for under a minute under a fault schedule
(services SIGKILLed, broker paused, Postgres killed, Deltek and Coupa misbehaving), judged by the
independent checker; once with one poster, and with two and three competing for the jobs while
the last one is killed holding ledger leases. The long run is ``connector chaos`` (see README)."""

from __future__ import annotations

import argparse
import re

import pytest

from devstack import chaos
from services.cli.main import build_parser

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("posters", "invoices", "seconds", "seed"),
    [
        pytest.param(1, 200, 40, 3, id="one poster"),
        # Seed 5 once stalled both posters for good: a leader stopped mid-rebalance (the key
        # rotation's restart) wedged the embedded broker's group (shared/kafka/group_exit.py).
        pytest.param(2, 120, 24, 5, id="two posters, one killed holding leases"),
        pytest.param(3, 120, 24, 7, id="three posters, one killed holding leases"),
    ],
)
def test_the_short_chaos_run_books_every_invoice_exactly_once(
    capsys, posters, invoices, seconds, seed
):
    args: argparse.Namespace = build_parser().parse_args(
        [
            "chaos",
            *("--invoices", str(invoices), "--seconds", str(seconds), "--every", "2"),
            *("--seed", str(seed), "--posters", str(posters)),
        ]
    )
    code = chaos.run(args)
    out = capsys.readouterr().out
    expected = f"chaos: {invoices} approved, {invoices} posted once, 0 duplicates, 0 lost"
    assert expected in out, out[-3000:]
    assert "audit trails incomplete: 0" in out
    assert "counts reconcile: yes" in out
    assert "every secret readable under the new key alone: yes" in out
    assert "secrets found in logs, metrics and tables: 0" in out
    assert f"posters: {posters} in one consumer group" in out
    assert code == 0
    # The schedule really broke things: at least a kill and some injected simulator faults.
    assert "SIGKILL" in out, out[-3000:]
    assert "injected" in out, out[-3000:]
    if posters > 1:
        # The last poster died while it held jobs, which the others then had to finish.
        held = re.search(rf"SIGKILL poster-{posters} \(mid-run, holding (\d+) ledger lease", out)
        assert held is not None, out[-3000:]
        assert int(held[1]) >= 1, held[0]
