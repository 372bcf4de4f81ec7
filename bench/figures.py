"""What one run measured, and the medians over runs that the report prints (pure).

A ``Window`` is one timed stretch of work: how many invoices, how long, and the simulator
requests and CPU seconds it cost. Per run the naive script gives one window; each poster count
gives a burst with real latency, the same burst with latency off (for CPU, which idle waiting
would otherwise swamp), and the approved→posted latencies of a steady trickle. Ratios are taken
between medians, so "vs naive" is the median pipeline throughput over the median naive one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.stats import median, median_by_key, per_item, percentile, ratio


@dataclass(frozen=True)
class Window:
    """``invoices`` handled in ``seconds``; ``calls`` per endpoint and ``cpu`` seconds per part."""

    invoices: int
    seconds: float
    calls: dict[str, float]
    cpu: dict[str, float]

    @property
    def throughput(self) -> float:
        return self.invoices / self.seconds

    def calls_per_invoice(self) -> dict[str, float]:
        return per_item(self.calls, self.invoices)

    def cpu_ms_per_invoice(self) -> dict[str, float]:
        return per_item(self.cpu, self.invoices, 1000.0)


@dataclass(frozen=True)
class PipelineRun:
    """One run at one poster count."""

    burst: Window
    unslowed: Window
    trickle: list[float]  # approved→posted seconds, one per invoice


def summarise(naive: list[Window], posters: dict[int, list[PipelineRun]]) -> dict[str, Any]:
    """The medians of every figure; ``posters`` maps a poster count to its runs."""
    naive_rate = median([w.throughput for w in naive])
    by_posters: dict[str, dict[str, Any]] = {}
    rates = {n: median([run.burst.throughput for run in runs]) for n, runs in posters.items()}
    for n, runs in sorted(posters.items()):
        by_posters[str(n)] = {
            "invoices_per_s": rates[n],
            "times_naive": ratio(rates[n], naive_rate),
            "times_one_poster": ratio(rates[n], rates[1]) if 1 in rates else None,
            "invoices_per_s_latency_off": median([run.unslowed.throughput for run in runs]),
            "trickle_p50_s": median([percentile(run.trickle, 0.50) for run in runs]),
            "trickle_p99_s": median([percentile(run.trickle, 0.99) for run in runs]),
            "calls_per_invoice": median_by_key([run.burst.calls_per_invoice() for run in runs]),
            "cpu_ms_per_invoice_latency_off": median_by_key(
                [run.unslowed.cpu_ms_per_invoice() for run in runs]
            ),
            "cpu_ms_per_invoice_latency_on": median_by_key(
                [run.burst.cpu_ms_per_invoice() for run in runs]
            ),
        }
    return {
        "naive": {
            "invoices_per_s": naive_rate,
            "calls_per_invoice": median_by_key([w.calls_per_invoice() for w in naive]),
            "cpu_ms_per_invoice": median_by_key([w.cpu_ms_per_invoice() for w in naive]),
        },
        "posters": by_posters,
    }
