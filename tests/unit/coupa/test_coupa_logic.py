"""Pure logic of the Coupa seam and simulator: paging cursor, signatures, faults, query filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.coupa.paging import UpdatedAtPager
from shared.coupa.signing import sign, verify
from shared.http.paging import PagingLoopError
from simulators.common.faults import CallWindow, FaultInjector, FaultPlan
from simulators.coupa.query import QueryError, matches, parse_filters, sort_records


def _rec(record_id: int, stamp: str) -> dict[str, object]:
    return {"id": record_id, "updated-at": f"2025-01-01T00:00:{stamp}+00:00"}


def test_pager_first_page_params_and_cursor_moves_to_last_updated_at():
    pager = UpdatedAtPager(datetime(2025, 1, 1, tzinfo=UTC), limit=3)
    assert pager.params() == {
        "order_by": "updated_at",
        "dir": "asc",
        "limit": "3",
        "offset": "0",
        "updated-at[gt_or_eq]": "2025-01-01T00:00:00+00:00",
    }
    fresh = pager.advance([_rec(1, "01"), _rec(2, "02"), _rec(3, "02")])
    assert [r["id"] for r in fresh] == [1, 2, 3]
    assert pager.params()["updated-at[gt_or_eq]"] == "2025-01-01T00:00:02+00:00"
    assert pager.params()["offset"] == "0"
    # The next page starts at the same instant: the two ties come back and are dropped.
    fresh = pager.advance([_rec(2, "02"), _rec(3, "02"), _rec(4, "05")])
    assert [r["id"] for r in fresh] == [4]


def test_pager_steps_through_a_group_larger_than_a_page():
    pager = UpdatedAtPager(None, limit=2)
    assert "updated-at[gt_or_eq]" not in pager.params()
    pager.advance([_rec(1, "07"), _rec(2, "07")])
    assert pager.params()["offset"] == "2"
    pager.advance([_rec(3, "07"), _rec(4, "07")])
    assert pager.params()["offset"] == "4"
    assert [r["id"] for r in pager.advance([_rec(5, "07")])] == [5]
    assert not pager.has_more


def test_pager_detects_a_server_ignoring_offset():
    pager = UpdatedAtPager(None, limit=2)
    pager.advance([_rec(1, "07"), _rec(2, "07")])
    with pytest.raises(PagingLoopError):
        pager.advance([_rec(1, "07"), _rec(2, "07")])


def test_signature_roundtrip_rotation_tolerance_and_tamper():
    body = b'{"id": 1}'
    signature = sign("k2", "1700000000", body)
    assert signature.startswith("sha256=")
    assert verify(["k1", "k2"], "1700000000", signature, body, now=1700000100)
    assert not verify(["k1"], "1700000000", signature, body, now=1700000100)
    assert not verify(["k2"], "1700000000", signature, body + b" ", now=1700000100)
    assert not verify(["k2"], "1700000000", signature, body, now=1700000301)
    assert not verify(["k2"], None, signature, body, now=1700000000)
    assert not verify(["k2"], "yesterday", signature, body, now=1700000000)


def test_call_window_once_and_periodic():
    once = CallWindow(after=2, count=2)
    assert [once.hits(n) for n in range(6)] == [False, False, True, True, False, False]
    periodic = CallWindow(after=0, count=1, every=3)
    assert [periodic.hits(n) for n in range(7)] == [True, False, False] * 2 + [True]


def test_fault_injector_order_counters_and_reset():
    injector = FaultInjector(
        FaultPlan(unauthorized=CallWindow(count=1), throttle=CallWindow(after=1))
    )
    assert injector.before() == (401, "Unauthorized (injected fault)")
    assert injector.before() is not None
    assert injector.before() is None
    assert injector.injected == {"unauthorized": 1, "throttle": 1}
    injector.set_plan(FaultPlan(lost_answer=CallWindow(after=1)))
    assert (injector.calls, injector.injected) == (0, {})
    assert [injector.lose_answer(m) for m in ("PUT", "GET", "POST")] == [False, False, True]


def test_fault_rate_is_deterministic_from_seed():
    def run() -> list[bool]:
        injector = FaultInjector(FaultPlan(server_error_rate=0.5, seed=3))
        return [injector.before() is not None for _ in range(50)]

    assert run() == run()
    assert 10 < sum(run()) < 40


def test_query_filters_operators_and_associations():
    record = {
        "id": 5,
        "status": "approved",
        "exported": False,
        "gross-total": "120.50",
        "updated-at": "2025-03-05T16:02:10-08:00",
        "supplier": {"name": "Northwind Survey"},
        "invoice-lines": [{"account": {"code": "1001-5200-100"}}, {"account": {"code": "X"}}],
    }

    def check(**params: str) -> bool:
        return matches(record, parse_filters(params.items()))

    assert check(status="approved", exported="false")
    assert check(**{"status[in]": "voided,approved", "updated_at[gt]": "2025-03-05"})
    assert not check(**{"updated-at[gt]": "2025-03-06T00:02:10+00:00"})
    assert check(**{"updated-at[gt_or_eq]": "2025-03-06T00:02:10+00:00"})
    assert check(**{"gross-total[lt]": "200", "supplier[name][starts_with]": "north"})
    assert check(**{"invoice-lines[account][code]": "X"})
    assert not check(**{"status[not_in]": "approved"})
    assert check(**{"exported[blank]": "false"})
    with pytest.raises(QueryError):
        check(**{"updated-at[gt]": "2025-03-05T16:02:10 08:00"})
    with pytest.raises(QueryError):
        parse_filters([("bad key!", "1")])


def test_sort_ties_fall_back_to_ascending_id():
    records = [{"id": 3, "n": 1}, {"id": 1, "n": 2}, {"id": 2, "n": 1}]
    assert [r["id"] for r in sort_records(records, "n", "asc")] == [2, 3, 1]
    assert [r["id"] for r in sort_records(records, None, "desc")] == [3, 2, 1]


def test_cli_flags_become_simulator_options():
    import argparse

    from simulators.coupa.cli import add_arguments, options_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    lax = options_from_args(parser.parse_args([]))
    assert (lax.strict, lax.seed, lax.rate, lax.burst) == (False, 42, 25.0, 20)
    args = parser.parse_args(
        [
            "--client-id", "cid", "--client-secret", "sec", "--scopes", "core.invoice.read",
            "--faults", '{"unauthorized": {"after": 5}}', "--callout-url", "http://x/coupa/acme",
            "--callout-secret", "whsec", "--seed", "7",
        ]
    )  # fmt: skip
    strict = options_from_args(args)
    assert strict.strict
    assert strict.client_scopes == frozenset({"core.invoice.read"})
    assert strict.faults.unauthorized == CallWindow(after=5)
    assert (strict.callout.url, strict.callout.secret, strict.seed) == (
        "http://x/coupa/acme",
        "whsec",
        7,
    )
    assert args.port == 8091
    assert args.host == "127.0.0.1"
