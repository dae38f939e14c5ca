"""k6's percentile maths (k6-compat.md §0.1), in one place for every trend sink.

The exact reference sink (sinks.py), the bounded trend sink (histogram.py) and the per-interval
time series (timeseries.py) must agree to the bit on what "p(95)" means: rank
p/100 * (n - 1), linear interpolation between the two neighbouring order statistics. Kept
here, below all of them, so the imports run one way: sinks.py -> histogram.py -> here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def parse_percentile(method: str) -> float | None:
    """'p(99.9)' -> 99.9; anything else -> None."""
    if method.startswith("p(") and method.endswith(")"):
        try:
            return float(method[2:-1])
        except ValueError:
            return None
    return None


def k6_percentile_of_sorted(v: Sequence[float] | np.ndarray, p: float) -> float:
    """k6's percentile of ascending values (§0.1): the exact reference sink, and the trend
    sink while it still keeps every value."""
    n = len(v)
    if n == 0:
        return 0.0
    if n == 1:
        return float(v[0])
    i = min(max(p / 100 * (n - 1), 0.0), n - 1.0)
    lo, hi = math.floor(i), math.ceil(i)
    a, b = float(v[lo]), float(v[hi])
    return a + (b - a) * (i - lo)


def k6_percentiles_of_buckets(
    reps: np.ndarray, counts: np.ndarray, vmin: float, vmax: float, ps: Sequence[float]
) -> list[float]:
    """k6 percentiles of a histogram given as ascending bucket values and their counts.

    Order statistic r is its bucket's value clamped to [vmin, vmax]; r=0 and r=n-1 are the
    exact vmin and vmax. Interpolation between ranks is k6's (§0.1).
    """
    cum = np.cumsum(counts)
    n = int(cum[-1]) if len(cum) else 0
    if n == 0:
        return [0.0 for _ in ps]
    if n == 1:
        return [vmin for _ in ps]

    def at(r: int) -> float:
        if r <= 0:
            return vmin
        if r >= n - 1:
            return vmax
        j = int(np.searchsorted(cum, r, side="right"))
        return min(max(float(reps[j]), vmin), vmax)

    out: list[float] = []
    for p in ps:
        i = min(max(p / 100 * (n - 1), 0.0), n - 1.0)
        lo, hi = math.floor(i), math.ceil(i)
        a, b = at(lo), at(hi)
        out.append(a + (b - a) * (i - lo))
    return out


class TrendStats:
    """k6's trend aggregations over `count`, `sum`, `min`, `max` and `percentile(p)`, shared
    by the exact reference sink (sinks.py) and the bounded one (histogram.py)."""

    count: int
    sum: float
    min: float
    max: float

    def percentile(self, p: float) -> float:
        raise NotImplementedError

    def aggregate(self, method: str, elapsed_s: float) -> float | None:
        if method == "avg":
            return self.sum / self.count if self.count else 0.0
        if method == "min":
            return self.min if self.count else 0.0
        if method == "max":
            return self.max if self.count else 0.0
        if method == "count":
            return float(self.count)
        if method == "med":
            return self.percentile(50)
        p = parse_percentile(method)
        if p is None:
            raise KeyError(method)
        return self.percentile(p)

    def summary_values(self, trend_stats: list[str], elapsed_s: float) -> dict[str, float]:
        out: dict[str, float] = {}
        for s in trend_stats:
            val = self.aggregate(s, elapsed_s)
            out[s] = int(val) if s == "count" and val is not None else (val or 0.0)
        return out
