"""The benchmark's arithmetic: percentiles, medians over runs, ratios, endpoints without ids."""

from __future__ import annotations

import math

import pytest

from bench.figures import PipelineRun, Window, summarise
from bench.stats import (
    by_endpoint,
    endpoint,
    growth,
    median,
    median_by_key,
    per_item,
    percentile,
    ratio,
)


@pytest.mark.parametrize(
    ("share", "expected"),
    [(0.01, 1.0), (0.5, 50.0), (0.51, 51.0), (0.99, 99.0), (1.0, 100.0)],
)
def test_percentile_is_nearest_rank(share, expected):
    values = [float(n) for n in range(100, 0, -1)]  # order does not matter
    assert percentile(values, share) == expected


def test_percentile_of_few_values_is_one_that_happened():
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([3.0, 1.0, 2.0], 0.99) == 3.0
    assert percentile([7.0], 0.99) == 7.0


def test_percentile_refuses_nothing_and_bad_shares():
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="share"):
        percentile([1.0], 0.0)


def test_median_and_ratio():
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert ratio(30.0, 2.0) == 15.0
    assert ratio(1.0, 0.0) == math.inf


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ("GET /api/invoices/48123", "GET /api/invoices/{id}"),
        ("GET /api/invoices", "GET /api/invoices"),
        ("GET /api/purchase_orders", "GET /api/purchase_orders"),
        (
            "GET /api/DataEntry/apControl/CP1F3A9C0D2E4B6A8C0E2F4A6B8C0D2E",
            "GET /api/DataEntry/apControl/{id}",
        ),
        (
            "GET /api/DataEntry/apMaster/CP00000000000000000000000000000A",
            "GET /api/DataEntry/apMaster/{id}",
        ),
        ("PUT /api/DataEntry/PostTransFile", "PUT /api/DataEntry/PostTransFile"),
        ("POST /oauth2/token", "POST /oauth2/token"),
        ("GET /api/firm/0b6f2a9e5d4c4e1fa3b2c1d0e9f8a7b6/address", "GET /api/firm/{id}/address"),
        ("POST /vision/firm/VendorAccountingInfo", "POST /vision/firm/VendorAccountingInfo"),
    ],
)
def test_endpoint_folds_ids(request_, expected):
    assert endpoint(request_) == expected


def test_by_endpoint_sums_requests_of_one_endpoint():
    counts = {"GET /api/invoices/1": 2, "GET /api/invoices/2": 1, "GET /api/invoices": 4}
    assert by_endpoint(counts) == {"GET /api/invoices/{id}": 3, "GET /api/invoices": 4}


def test_growth_keeps_what_moved_and_counts_new_keys_from_zero():
    before = {"a": 2.0, "b": 5.0}
    after = {"a": 7.0, "b": 5.0, "c": 1.0}
    assert growth(before, after) == {"a": 5.0, "c": 1.0}


def test_per_item_and_its_scale():
    assert per_item({"x": 3.0}, 4) == {"x": 0.75}
    assert per_item({"cpu": 0.5}, 100, 1000.0) == {"cpu": 5.0}
    with pytest.raises(ValueError, match="positive"):
        per_item({"x": 1.0}, 0)


def test_median_by_key_counts_a_missing_key_as_zero():
    readings = [{"a": 1.0, "b": 4.0}, {"a": 3.0}, {"a": 2.0, "b": 6.0}]
    assert median_by_key(readings) == {"a": 2.0, "b": 4.0}


def window(invoices: int, seconds: float, calls=None, cpu=None) -> Window:
    return Window(invoices, seconds, calls or {}, cpu or {})


def test_summary_takes_medians_and_ratios_of_medians():
    naive = [window(100, 50.0), window(100, 40.0), window(100, 200.0)]  # 2.0, 2.5, 0.5 /s
    one = [
        PipelineRun(
            window(100, seconds, {"Deltek GET /api/PSALedger/AP": calls}),
            window(100, 5.0, cpu={"mapper": 0.8, "poster": 0.4}),
            trickle,
        )
        for seconds, calls, trickle in (
            (10.0, 100, [0.5, 1.0, 1.5, 9.0]),
            (20.0, 300, [0.4, 0.8, 1.2, 2.0]),
            (25.0, 200, [0.6, 0.9, 3.0, 4.0]),
        )
    ]  # 10, 5 and 4 /s
    two = [PipelineRun(window(100, s), window(100, 4.0), [1.0]) for s in (5.0, 4.0, 10.0)]
    summary = summarise(naive, {2: two, 1: one})
    assert summary["naive"]["invoices_per_s"] == 2.0
    first, second = summary["posters"]["1"], summary["posters"]["2"]
    assert list(summary["posters"]) == ["1", "2"]
    assert first["invoices_per_s"] == 5.0
    assert first["times_naive"] == 2.5
    assert first["times_one_poster"] == 1.0
    assert second["invoices_per_s"] == 20.0
    assert second["times_one_poster"] == 4.0
    assert first["invoices_per_s_latency_off"] == 20.0
    assert first["trickle_p50_s"] == 0.9  # the median of the p50s 1.0, 0.8 and 0.9
    assert first["trickle_p99_s"] == 4.0  # the median of the p99s 9.0, 2.0 and 4.0
    assert first["calls_per_invoice"] == {"Deltek GET /api/PSALedger/AP": 2.0}
    assert first["cpu_ms_per_invoice_latency_off"] == pytest.approx({"mapper": 8.0, "poster": 4.0})


def test_summary_without_one_poster_has_no_scaling_ratio():
    runs = [PipelineRun(window(10, 1.0), window(10, 1.0), [1.0])]
    summary = summarise([window(10, 10.0)], {2: runs})
    assert summary["posters"]["2"]["times_one_poster"] is None
    assert summary["posters"]["2"]["times_naive"] == 10.0
