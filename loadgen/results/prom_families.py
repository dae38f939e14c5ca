"""Prometheus families kept per label set: counters, rates (non-zero and all samples),
gauges (last value), `_seconds` histograms and count/sum summaries, each updated from a
batch grouped by tag set (a few numpy calls, whatever the number of records) or from an
aggregate absorbed from another process, and copied out for a scrape.

Each family holds at most `cap` label sets: past it, a new one folds its high-cardinality
labels (name, check, group) into "other", and past twice the cap every label, so the
series a scrape returns stay bounded whatever the script tags.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    SummaryMetricFamily,
)
from prometheus_client.core import (
    Metric as PromMetric,
)

from loadgen.metrics.model import Contains, Metric, MetricType, TagSet
from loadgen.metrics.sinks import CounterSink, GaugeSink, RateSink, Sink

#: seconds: 1 ms .. 1 min, about 2.5x apart (an API call to a slow report, a WebSocket ping
#: to a delivery latency); finer buckets multiply the series of every label set
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0, 60.0)
OTHER = "other"
#: labels whose values come from the script or the target: folded first past the cap
FOLDABLE = frozenset({"name", "check", "group"})
_TAG_CACHE_MAX = 100_000


def prom_name(metric: Metric) -> str:
    """`loadgen_<name>`, with the unit Prometheus expects (`_seconds`, `_bytes`)."""
    base = metric.name if metric.name.startswith("loadgen_") else f"loadgen_{metric.name}"
    if metric.type is MetricType.TREND and metric.contains is Contains.TIME:
        return f"{base}_seconds"
    if metric.contains is Contains.DATA:
        return f"{base}_bytes"
    return base


class Family:
    """One metric's label sets (slots) and their state; subclasses hold the numbers."""

    def __init__(self, metric: Metric, labels: tuple[str, ...], cap: int,
                 on_fold: Callable[[str], None]) -> None:
        self.metric = metric
        self.name = prom_name(metric)
        self.labels = labels
        self.cap = cap
        self.on_fold = on_fold
        self.keys: list[tuple[str, ...]] = []
        self._slots: dict[tuple[str, ...], int] = {}
        self._by_tags: dict[TagSet, int] = {}
        self.init()

    def init(self) -> None:
        """Empty per-slot storage (`grow` appends one slot to it)."""
        raise NotImplementedError

    def slot(self, tags: TagSet) -> int:
        """The label set these tags fall in (cached per interned tag set)."""
        s = self._by_tags.get(tags)
        if s is None:
            d = dict(tags)
            s = self._slot_of(tuple(d.get(k, "") for k in self.labels))
            if len(self._by_tags) >= _TAG_CACHE_MAX:  # tags vary more than labels: bound it
                self._by_tags.clear()
            self._by_tags[tags] = s
        return s

    def _slot_of(self, key: tuple[str, ...]) -> int:
        s = self._slots.get(key)
        if s is not None:
            return s
        if len(self.keys) >= self.cap:
            self.on_fold(self.name)
            key = tuple(OTHER if k in FOLDABLE else v for k, v in zip(self.labels, key,
                                                                       strict=True))
            if key not in self._slots and len(self.keys) >= 2 * self.cap:
                key = tuple(OTHER for _ in self.labels)
            s = self._slots.get(key)
            if s is not None:
                return s
        s = self._slots[key] = len(self.keys)
        self.keys.append(key)
        self.grow()
        return s

    def slots(self, tags: list[TagSet]) -> list[int]:
        cached = list(map(self._by_tags.get, tags))  # interned tag sets: a hash hit each
        if None not in cached:
            return cached  # type: ignore[return-value]
        return [self.slot(t) if s is None else s for t, s in zip(tags, cached, strict=True)]

    def grow(self) -> None:
        raise NotImplementedError

    def batch(self, values: np.ndarray, tags: list[TagSet], codes: np.ndarray | None) -> None:
        raise NotImplementedError

    def absorb(self, tags: TagSet, sink: Sink) -> None:
        raise NotImplementedError

    def snapshot(self) -> Any:
        raise NotImplementedError

    @staticmethod
    def families(name: str, labels: tuple[str, ...], keys: list[tuple[str, ...]],
                 snap: Any) -> list[PromMetric]:
        raise NotImplementedError


def _per_code(values: np.ndarray, codes: np.ndarray | None, k: int) -> list[float]:
    """Sum of values per tag-set code."""
    if codes is None:
        return [float(np.add.reduce(values))]
    return np.bincount(codes, weights=values, minlength=k).tolist()  # type: ignore[no-any-return]


def _count_per_code(codes: np.ndarray | None, n: int, k: int) -> list[int]:
    if codes is None:
        return [n]
    return np.bincount(codes, minlength=k).tolist()  # type: ignore[no-any-return]


class CounterFamily(Family):
    def init(self) -> None:
        self.sums: list[float] = []

    def grow(self) -> None:
        self.sums.append(0.0)

    def batch(self, values: np.ndarray, tags: list[TagSet], codes: np.ndarray | None) -> None:
        for s, v in zip(self.slots(tags), _per_code(values, codes, len(tags)), strict=False):
            self.sums[s] += v

    def absorb(self, tags: TagSet, sink: Sink) -> None:
        if isinstance(sink, CounterSink):
            self.sums[self.slot(tags)] += sink.count

    def snapshot(self) -> Any:
        return list(self.sums)

    @staticmethod
    def families(name: str, labels: tuple[str, ...], keys: list[tuple[str, ...]],
                 snap: Any) -> list[PromMetric]:
        f = CounterMetricFamily(name, f"{name}: the run's samples so far", labels=labels)
        for key, v in zip(keys, snap, strict=False):
            f.add_metric(key, v)
        return [f]


class RateFamily(Family):
    """Non-zero samples (`<name>_total`) and all samples (`<name>_samples_total`)."""

    def init(self) -> None:
        self.hits: list[int] = []
        self.totals: list[int] = []

    def grow(self) -> None:
        self.hits.append(0)
        self.totals.append(0)

    def batch(self, values: np.ndarray, tags: list[TagSet], codes: np.ndarray | None) -> None:
        k = len(tags)
        hits = _per_code((values != 0).astype(np.float64), codes, k)
        totals = _count_per_code(codes, len(values), k)
        for s, h, t in zip(self.slots(tags), hits, totals, strict=False):
            self.hits[s] += int(h)
            self.totals[s] += t

    def absorb(self, tags: TagSet, sink: Sink) -> None:
        if isinstance(sink, RateSink):
            s = self.slot(tags)
            self.hits[s] += sink.passes
            self.totals[s] += sink.total

    def snapshot(self) -> Any:
        return list(self.hits), list(self.totals)

    @staticmethod
    def families(name: str, labels: tuple[str, ...], keys: list[tuple[str, ...]],
                 snap: Any) -> list[PromMetric]:
        hits, totals = snap
        if name == "loadgen_checks":  # passes and fails per check, as k6's summary shows
            f = CounterMetricFamily(name, "checks so far, by result", labels=(*labels, "result"))
            for key, h, t in zip(keys, hits, totals, strict=False):
                f.add_metric((*key, "pass"), h)
                f.add_metric((*key, "fail"), t - h)
            return [f]
        nz = CounterMetricFamily(name, f"{name}: non-zero samples so far", labels=labels)
        tot = CounterMetricFamily(f"{name}_samples", f"{name}: all samples so far",
                                  labels=labels)
        for key, h, t in zip(keys, hits, totals, strict=False):
            nz.add_metric(key, h)
            tot.add_metric(key, t)
        return [nz, tot]


class GaugeFamily(Family):
    def init(self) -> None:
        self.last: list[float] = []

    def grow(self) -> None:
        self.last.append(0.0)

    def batch(self, values: np.ndarray, tags: list[TagSet], codes: np.ndarray | None) -> None:
        slots = self.slots(tags)
        if codes is None:
            self.last[slots[0]] = float(values[-1])
            return
        pos = np.full(len(tags), -1, np.int64)
        np.maximum.at(pos, codes, np.arange(len(values)))
        for s, i in zip(slots, pos.tolist(), strict=False):
            if i >= 0:
                self.last[s] = float(values[i])

    def absorb(self, tags: TagSet, sink: Sink) -> None:
        if isinstance(sink, GaugeSink) and sink.n:
            self.last[self.slot(tags)] = sink.value

    def snapshot(self) -> Any:
        return list(self.last)

    @staticmethod
    def families(name: str, labels: tuple[str, ...], keys: list[tuple[str, ...]],
                 snap: Any) -> list[PromMetric]:
        f = GaugeMetricFamily(name, f"{name}: the last value", labels=labels)
        for key, v in zip(keys, snap, strict=False):
            f.add_metric(key, v)
        return [f]


class HistogramFamily(Family):
    """A trend of times: cumulative buckets in seconds, with sum and count."""

    bounds = np.array(SECONDS_BUCKETS)

    def init(self) -> None:
        """One row of bucket counts per label set, in arrays grown by doubling: a batch
        with many label sets is one np.add.at, not a numpy call per label set."""
        self.counts = np.zeros((8, len(self.bounds) + 1), np.int64)
        self.sums = np.zeros(8)

    def grow(self) -> None:
        n = len(self.keys)
        if n > len(self.sums):
            counts = np.zeros((2 * n, self.counts.shape[1]), np.int64)
            counts[:len(self.counts)] = self.counts
            sums = np.zeros(2 * n)
            sums[:len(self.sums)] = self.sums
            self.counts, self.sums = counts, sums

    def batch(self, values: np.ndarray, tags: list[TagSet], codes: np.ndarray | None) -> None:
        v = values / 1000.0
        keep = np.isfinite(v)
        if not keep.all():
            v = v[keep]
            codes = None if codes is None else codes[keep]
        if not len(v):
            return
        nb = len(self.bounds) + 1
        b = np.searchsorted(self.bounds, v, side="left")  # le: v <= bound is in that bucket
        slots = self.slots(tags)
        if codes is None:
            self.counts[slots[0]] += np.bincount(b, minlength=nb)
            self.sums[slots[0]] += float(np.add.reduce(v))
            return
        k = len(tags)
        grid = np.bincount(codes * nb + b, minlength=k * nb).reshape(k, nb)
        rows = np.asarray(slots)  # two tag sets may share a label set: add.at adds both
        np.add.at(self.counts, rows, grid)
        np.add.at(self.sums, rows, np.bincount(codes, weights=v, minlength=k))

    def absorb(self, tags: TagSet, sink: Sink) -> None:
        buckets = getattr(sink, "buckets", None)
        if buckets is None or sink.empty:
            return
        vals, cnts = buckets()  # exact values, or HDR midpoints (0.05%): served values only
        if not len(vals):
            return
        s = self.slot(tags)
        b = np.searchsorted(self.bounds, np.asarray(vals) / 1000.0, side="left")
        self.counts[s] += np.bincount(b, weights=cnts, minlength=len(self.bounds) + 1
                                      ).astype(np.int64)
        total = float(getattr(sink, "sum", 0.0))
        self.sums[s] += total / 1000.0 if math.isfinite(total) else 0.0

    def snapshot(self) -> Any:
        n = len(self.keys)
        return self.counts[:n].copy(), self.sums[:n].tolist()

    @staticmethod
    def families(name: str, labels: tuple[str, ...], keys: list[tuple[str, ...]],
                 snap: Any) -> list[PromMetric]:
        counts, sums = snap
        f = HistogramMetricFamily(name, f"{name}: the run's samples so far", labels=labels)
        les = [f"{b:g}" for b in SECONDS_BUCKETS] + ["+Inf"]
        for key, cum, total in zip(keys, np.cumsum(counts, axis=1).tolist(), sums,
                                   strict=False):
            f.add_metric(key, list(zip(les, cum, strict=True)), total)
        return [f]


class SummaryFamily(HistogramFamily):
    """A trend that is not a time (a custom Trend): count and sum only, no scale to bucket."""

    bounds = np.zeros(0)

    def batch(self, values: np.ndarray, tags: list[TagSet], codes: np.ndarray | None) -> None:
        keep = np.isfinite(values)
        if not keep.all():
            values = values[keep]
            codes = None if codes is None else codes[keep]
        k = len(tags)
        rows = np.asarray(self.slots(tags))
        np.add.at(self.counts[:, 0], rows, _count_per_code(codes, len(values), k))
        np.add.at(self.sums, rows, _per_code(values, codes, k))

    def absorb(self, tags: TagSet, sink: Sink) -> None:
        n = int(getattr(sink, "count", 0))
        total = float(getattr(sink, "sum", 0.0))
        if n and math.isfinite(total):
            s = self.slot(tags)
            self.counts[s][0] += n
            self.sums[s] += total

    @staticmethod
    def families(name: str, labels: tuple[str, ...], keys: list[tuple[str, ...]],
                 snap: Any) -> list[PromMetric]:
        counts, sums = snap
        f = SummaryMetricFamily(name, f"{name}: count and sum so far", labels=labels)
        for key, c, total in zip(keys, counts[:, 0].tolist(), sums, strict=False):
            f.add_metric(key, c, total)
        return [f]


def family_class(metric: Metric) -> type[Family]:
    if metric.type is MetricType.COUNTER:
        return CounterFamily
    if metric.type is MetricType.RATE:
        return RateFamily
    if metric.type is MetricType.GAUGE:
        return GaugeFamily
    return HistogramFamily if metric.contains is Contains.TIME else SummaryFamily
