"""Pure logic of the Coupa seam and simulator: paging by id, signatures, faults, query filters."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.coupa.paging import ChangedSincePager, PageOrderError
from shared.coupa.signing import sign, verify
from simulators.common.faults import CallWindow, FaultInjector, FaultPlan
from simulators.coupa.query import QueryError, matches, parse_filters, sort_records


def _rec(record_id: int, second: int, **fields: Any) -> dict[str, Any]:
    return {"id": record_id, "updated-at": f"2025-01-01T00:00:{second:02d}+00:00", **fields}


def _coupa_answer(records: dict[int, dict[str, Any]], params: dict[str, str]) -> list[Any]:
    """A Coupa index answered in its documented default order, as the simulator filters it;
    copies, as over the wire, so a later change does not reach what was read."""
    selected = [dict(r) for r in records.values() if matches(r, parse_filters(params.items()))]
    return sort_records(selected, None, "asc")[: int(params["limit"])]


def test_pager_asks_for_the_default_order_from_a_fixed_since_after_the_last_id():
    pager = ChangedSincePager(datetime(2025, 1, 1, tzinfo=UTC), limit=3)
    first = {"limit": "3", "updated-at[gt_or_eq]": "2025-01-01T00:00:00+00:00"}
    assert pager.params() == first
    # Ids rise while updated-at does not: the walk neither needs nor checks that it does.
    page = [_rec(4, 9), _rec(7, 1), _rec(9, 5)]
    assert pager.advance(page) == page
    assert pager.has_more
    assert pager.params() == {**first, "id[gt]": "9"}
    assert pager.advance([_rec(12, 0)]) == [_rec(12, 0)]
    assert not pager.has_more
    assert ChangedSincePager(None, limit=3).params() == {"limit": "3"}


def test_pager_walk_misses_nothing_that_stays_put_while_records_change_mid_walk():
    """Records change behind and ahead of the walk's position and leave the result set: every
    record that stays put is read once, one changed ahead is read in its new version, one changed
    behind is not read twice (the poll cursor's cap brings it next time)."""
    rng = random.Random(3)
    records = {n: _rec(n, rng.randrange(10, 50), status="approved") for n in range(1, 31)}
    for n in range(11, 19):  # more records at one instant than a page holds
        records[n]["updated-at"] = _rec(n, 20)["updated-at"]
    pager = ChangedSincePager(datetime(2025, 1, 1, 0, 0, 10, tzinfo=UTC), limit=4)
    changed_at = _rec(0, 55)["updated-at"]
    read: list[Mapping[str, Any]] = []
    while pager.has_more:
        read += pager.advance(_coupa_answer(records, {"status": "approved", **pager.params()}))
        if pager.last_id == 8:
            records[3]["updated-at"] = changed_at  # behind
            records[20]["updated-at"] = changed_at  # ahead
            records[25]["status"] = "voided"  # ahead, leaves the result set
    ids = [r["id"] for r in read]
    assert ids == sorted(set(ids))
    assert set(ids) == set(records) - {25}
    versions = {r["id"]: r["updated-at"] for r in read}
    assert versions[3] != changed_at
    assert versions[20] == changed_at


def test_pager_refuses_pages_out_of_ascending_id_rather_than_skip():
    in_time_order = ChangedSincePager(None, limit=2)
    with pytest.raises(PageOrderError, match="ascending id"):
        in_time_order.advance([_rec(5, 1), _rec(2, 2)])
    ignoring_id_gt = ChangedSincePager(None, limit=2)
    ignoring_id_gt.advance([_rec(1, 7), _rec(2, 7)])
    with pytest.raises(PageOrderError):
        ignoring_id_gt.advance([_rec(1, 7), _rec(2, 7)])
    with pytest.raises(PageOrderError, match="no numeric id"):
        ChangedSincePager(None, limit=2).advance([{"id": "7"}])


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
    assert not lax.honour_order_by, "Coupa does not document honouring order_by (§3.2)"
    args = parser.parse_args(
        [
            "--client-id", "cid", "--client-secret", "sec", "--scopes", "core.invoice.read",
            "--faults", '{"unauthorized": {"after": 5}}', "--callout-url", "http://x/coupa/acme",
            "--callout-secret", "whsec", "--seed", "7", "--honour-order-by",
        ]
    )  # fmt: skip
    strict = options_from_args(args)
    assert strict.strict
    assert strict.client_scopes == frozenset({"core.invoice.read"})
    assert strict.faults.unauthorized == CallWindow(after=5)
    assert strict.honour_order_by
    assert (strict.callout.url, strict.callout.secret, strict.seed) == (
        "http://x/coupa/acme",
        "whsec",
        7,
    )
    assert args.port == 8091
    assert args.host == "127.0.0.1"
