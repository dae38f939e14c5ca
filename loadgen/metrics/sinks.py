"""Aggregates kept per metric and sub-metric ("sinks"), with k6's exact maths and quirks.

k6-compat.md §0.1. Every sink answers two questions, the same way for thresholds and for
summaries: `aggregate(method, elapsed_s)` (one threshold aggregation, e.g. "p(95)", "rate";
None means "absent", which makes a threshold pass) and `summary_values(trend_stats,
elapsed_s)` (the handleSummary `values` object).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from loadgen.metrics.histogram import TrendSink
from loadgen.metrics.model import MetricType
from loadgen.metrics.percentiles import TrendStats, k6_percentile_of_sorted


class Sink(Protocol):
    type: MetricType

    @property
    def empty(self) -> bool: ...

    def add(self, value: float) -> None: ...

    def add_many(self, values: np.ndarray) -> None: ...

    def aggregate(self, method: str, elapsed_s: float) -> float | None: ...

    def summary_values(self, trend_stats: list[str], elapsed_s: float) -> dict[str, float]: ...


class CounterSink:
    type = MetricType.COUNTER

    def __init__(self) -> None:
        self.count = 0.0
        self.n = 0

    @property
    def empty(self) -> bool:
        return self.n == 0

    def add(self, value: float) -> None:
        self.count += value
        self.n += 1

    def add_many(self, values: np.ndarray) -> None:
        self.count += float(values.sum())
        self.n += len(values)

    def rate(self, elapsed_s: float) -> float:
        return self.count / elapsed_s if elapsed_s > 0 else 0.0

    def aggregate(self, method: str, elapsed_s: float) -> float | None:
        if method == "count":
            return self.count
        if method == "rate":
            return self.rate(elapsed_s)
        raise KeyError(method)

    def summary_values(self, trend_stats: list[str], elapsed_s: float) -> dict[str, float]:
        return {"count": self.count, "rate": self.rate(elapsed_s)}


class GaugeSink:
    """Last value, min, max. k6 quirk kept on purpose: max starts at 0 (§0.1)."""

    type = MetricType.GAUGE

    def __init__(self) -> None:
        self.value = 0.0
        self.min = 0.0
        self.max = 0.0
        self.n = 0

    @property
    def empty(self) -> bool:
        return self.n == 0

    def add(self, value: float) -> None:
        if self.n == 0 or value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        self.value = value
        self.n += 1

    def add_many(self, values: np.ndarray) -> None:
        for v in values.tolist():
            self.add(v)

    def aggregate(self, method: str, elapsed_s: float) -> float | None:
        if method == "value":
            return self.value
        if method == "min":
            return self.min
        if method == "max":
            return self.max
        raise KeyError(method)

    def summary_values(self, trend_stats: list[str], elapsed_s: float) -> dict[str, float]:
        return {"value": self.value, "min": self.min, "max": self.max}


class RateSink:
    """Share of non-zero samples. `rate` is absent (None) while empty (§3.3)."""

    type = MetricType.RATE

    def __init__(self) -> None:
        self.passes = 0
        self.total = 0

    @property
    def empty(self) -> bool:
        return self.total == 0

    def add(self, value: float) -> None:
        self.total += 1
        if value:
            self.passes += 1

    def add_many(self, values: np.ndarray) -> None:
        self.total += len(values)
        self.passes += int(np.count_nonzero(values))

    @property
    def fails(self) -> int:
        return self.total - self.passes

    def aggregate(self, method: str, elapsed_s: float) -> float | None:
        if method == "rate":
            return self.passes / self.total if self.total else None
        raise KeyError(method)

    def summary_values(self, trend_stats: list[str], elapsed_s: float) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.total:
            out["rate"] = self.passes / self.total
        else:
            out["rate"] = 0
        out["passes"] = self.passes
        out["fails"] = self.fails
        return out


class ExactTrendSink(TrendStats):
    """Every value kept (k6's way). Exact, unbounded: used for tests as the reference only."""

    type = MetricType.TREND

    def __init__(self) -> None:
        self.values: list[float] = []

    @property
    def empty(self) -> bool:
        return not self.values

    @property
    def count(self) -> int:  # type: ignore[override]
        return len(self.values)

    @property
    def sum(self) -> float:  # type: ignore[override]
        return sum(self.values)

    @property
    def min(self) -> float:  # type: ignore[override]
        return min(self.values)

    @property
    def max(self) -> float:  # type: ignore[override]
        return max(self.values)

    def add(self, value: float) -> None:
        self.values.append(value)

    def add_many(self, values: np.ndarray) -> None:
        self.values.extend(values.tolist())

    def percentile(self, p: float) -> float:
        return k6_percentile_of_sorted(sorted(self.values), p)


def merge_sink(into: Sink, other: Sink) -> None:
    """Add every sample `other` saw to `into` (same type), exactly: sums of counts, min/max,
    the gauge's later last value (`other` is taken as the later one), trend histograms by
    TrendSink.merge (an exact sum of counts when both share a unit)."""
    if isinstance(into, CounterSink) and isinstance(other, CounterSink):
        into.count += other.count
        into.n += other.n
    elif isinstance(into, RateSink) and isinstance(other, RateSink):
        into.passes += other.passes
        into.total += other.total
    elif isinstance(into, GaugeSink) and isinstance(other, GaugeSink):
        if other.n:
            into.min = other.min if into.n == 0 else min(into.min, other.min)
            into.max = max(into.max, other.max)  # both include k6's 0 start (see GaugeSink)
            into.value = other.value
            into.n += other.n
    elif isinstance(into, TrendSink) and isinstance(other, TrendSink):
        into.merge(other)
    else:
        raise TypeError(f"cannot merge a {other.type} sink into a {into.type} sink")


def new_sink(mtype: MetricType) -> Sink:
    """The production sink for a metric type; trends get the bounded-memory TrendSink."""
    if mtype is MetricType.COUNTER:
        return CounterSink()
    if mtype is MetricType.GAUGE:
        return GaugeSink()
    if mtype is MetricType.RATE:
        return RateSink()
    return TrendSink()
