"""The arithmetic of the benchmarks, kept pure so the unit tests can pin it down.

Percentiles are nearest-rank (a p99 of 50 latencies is the largest, never an interpolation
between two that happened); medians are taken across runs of one figure; request counts are
compared by endpoint, with the ids a path carries folded into ``{id}`` so 200 invoices make one
row ``GET /api/invoices/{id}``, not 200.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence

# An id in a path: all digits (Coupa ids), or a long token with a digit in it (Deltek batch names
# such as CP1F3A..., firm ids, UUIDs). Route words (apControl, PostTransFile, oauth2) stay.
_ID_SEGMENT = re.compile(r"^(?:\d+|(?=[^/]*\d)[\w.~-]{12,})$")


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``share`` of them at or
    below it (``share`` 0.5 for p50, 0.99 for p99)."""
    if not values:
        raise ValueError("no values")
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], not {share}")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("no values")
    return float(statistics.median(values))


def ratio(value: float, baseline: float) -> float:
    """How many times ``baseline`` ``value`` is (``inf`` over a zero baseline)."""
    return value / baseline if baseline else math.inf


def endpoint(request: str) -> str:
    """``"GET /api/invoices/48123"`` → ``"GET /api/invoices/{id}"``: ids out of the path."""
    method, _, path = request.partition(" ")
    segments = ["{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/")]
    return f"{method} {'/'.join(segments)}"


def by_endpoint(counts: Mapping[str, int]) -> dict[str, int]:
    """A simulator's request counts summed per endpoint."""
    summed: Counter[str] = Counter()
    for request, count in counts.items():
        summed[endpoint(request)] += count
    return dict(summed)


def growth(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """What each counter gained between two readings; counters that did not move are left out."""
    gained = {key: value - before.get(key, 0) for key, value in after.items()}
    return {key: value for key, value in gained.items() if value}


def per_item(totals: Mapping[str, float], items: int, scale: float = 1.0) -> dict[str, float]:
    """Each total shared over ``items`` (times ``scale``, e.g. 1000 for seconds to ms)."""
    if items <= 0:
        raise ValueError("items must be positive")
    return {key: value * scale / items for key, value in totals.items()}


def median_by_key(readings: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The median of each key across runs; a key a run lacks counts as 0 in that run."""
    keys = sorted({key for reading in readings for key in reading})
    return {key: median([reading.get(key, 0.0) for reading in readings]) for key in keys}
