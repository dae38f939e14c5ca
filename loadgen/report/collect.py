"""Per-interval series for the report's charts, fed with interval snapshots as they arrive.

The charts need, per second, the exact latency percentiles of that second (per request name
too), which the run's store cannot give back at the end (it holds whole-run sinks) and the
verdict time series only gives to 0.78%. Intervals carry every sample of their second as
exact values or an HDR histogram, so each second's percentiles are computed once from the
merged histograms of that second (several workers' intervals of one second merge first) and
only the numbers are kept: memory is a few floats per second and request name, never
histograms per second.

Bounds: at most MAX_NAMES request names (the rest are charted as OTHER), and at most
MAX_POINTS rows: past that, neighbouring rows are paired (counts added, latencies and
gauges keep the worse of the two: a point is then the worst second of its window, a real
measured value, never an average of percentiles). A 30-minute run stays at one point per
second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loadgen.metrics.histogram import TrendSink
from loadgen.metrics.model import Contains, TagSet
from loadgen.metrics.percentiles import k6_percentiles_of_buckets
from loadgen.metrics.sinks import CounterSink, GaugeSink, RateSink, Sink
from loadgen.results.interval import UNIT_EXP, Interval

MAX_NAMES = 50
OTHER = "(other names)"
MAX_POINTS = 2400
#: seconds an interval may arrive late (a worker's snapshot behind the others') before its
#: second is closed and its percentiles computed
SETTLE_S = 5
PCTS = (50.0, 90.0, 95.0, 99.0)
LAT_COLS = ("p50", "p90", "p95", "p99", "max")
#: the latency distribution (HDR percentile spectrum): 0%, 50%, 75%, ... 99.9999%
SPECTRUM = tuple(100.0 * (1 - 10 ** (-k / 10)) for k in range(0, 61))
SERIES_TRENDS = ("iteration_lag", "iteration_latency", "loadgen_loop_lag")


def _trend() -> TrendSink:
    return TrendSink(unit_exp=UNIT_EXP[Contains.TIME])


def _finite(v: float) -> float | None:
    """A percentile as JSON can carry it: unserved (+inf) becomes None (a gap)."""
    return v if math.isfinite(v) else None


@dataclass
class _Second:
    """Everything that arrived for one second, across processes, until it is closed."""

    width: float = 0.0  # the longest of the processes' intervals of this second
    tail: float = 0.0  # a short last cut folded in (its length adds to the second's)
    reqs: dict[str, float] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    durations: dict[str, list[TrendSink]] = field(default_factory=dict)
    trends: dict[str, list[TrendSink]] = field(default_factory=dict)
    vus: dict[str, float] = field(default_factory=dict)
    cpu: float | None = None
    dropped: float = 0.0
    iterations: float = 0.0


@dataclass
class Series:
    """The finished columns (one value per point) and the whole-run views."""

    width_s: float
    t: list[float]
    cols: dict[str, list[float | None]]
    names: list[str]
    by_name: dict[str, dict[str, list[float | None]]]
    spectrum: dict[str, list[tuple[float, float]]]
    totals: dict[str, dict[str, float]]
    late: int = 0


def _name_of(tags: TagSet) -> str:
    d = dict(tags)
    return d.get("name") or d.get("url") or "(no name)"


class ReportCollector:
    """Fed with every interval (`observe`), in any order within SETTLE_S seconds."""

    def __init__(self, max_points: int = MAX_POINTS, max_names: int = MAX_NAMES) -> None:
        self.max_points = max_points
        self.max_names = max_names
        self._open: dict[int, _Second] = {}
        self._closed_upto = -1  # seconds <= this are closed
        self.width = 1  # seconds per row (doubles when rows are paired)
        self.t: list[float] = []
        self.cols: dict[str, list[float | None]] = {}
        self.by_name: dict[str, dict[str, list[float | None]]] = {}
        self.names: list[str] = []
        self.late = 0
        self._known: set[str] = set()
        #: whole-run sinks per request name (the endpoint table when the summary has none,
        #: and each name's latency spectrum)
        self.dur_total: dict[str, _Buckets] = {}
        self.reqs_total: dict[str, float] = {}
        self.failed_total: dict[str, list[int]] = {}

    # ---- in ------------------------------------------------------------------------------
    def observe(self, iv: Interval) -> None:
        key = int(math.floor(iv.start_s + 0.5))
        width = iv.end_s - iv.start_s
        short = width < 0.5 and key - 1 in self._open
        if short:  # a run's last cut (a few ms): part of the second before, not a point
            key -= 1  # whose rate would be a few requests over a few milliseconds
        if key <= self._closed_upto:
            self.late += 1  # its samples are in the summary; its second is already drawn
            self._totals(iv)
            return
        sec = self._open.setdefault(key, _Second())
        if short:
            sec.tail = max(sec.tail, width)
        else:
            sec.width = max(sec.width, width)
        for (metric, tags), sink in iv.metrics.items():
            self._add(sec, metric, tags, sink)
        self._totals(iv)
        for k in sorted(k for k in self._open if k < key - SETTLE_S):
            self._close(k)

    def _label(self, name: str) -> str:
        """The name itself, or OTHER once MAX_NAMES names are known (a runaway `name`
        tag must not grow the report)."""
        if name in self._known:
            return name
        if len(self._known) < self.max_names:
            self._known.add(name)
            return name
        return OTHER

    def _add(self, sec: _Second, metric: str, tags: TagSet, sink: Sink) -> None:
        if metric == "http_reqs" and isinstance(sink, CounterSink):
            n = self._label(_name_of(tags))
            sec.reqs[n] = sec.reqs.get(n, 0.0) + sink.count
        elif metric == "http_req_failed" and isinstance(sink, RateSink):
            n = self._label(_name_of(tags))
            sec.failed[n] = sec.failed.get(n, 0) + sink.passes
        elif metric == "http_req_duration" and isinstance(sink, TrendSink):
            n = self._label(_name_of(tags))
            sec.durations.setdefault(n, []).append(sink)
        elif metric in SERIES_TRENDS and isinstance(sink, TrendSink):
            sec.trends.setdefault(metric, []).append(sink)
        elif metric in ("vus", "vus_max") and isinstance(sink, GaugeSink) and sink.n:
            # one gauge per process: the fleet's sum; the highest of the interval (the
            # sample at the tick often finds an arrival-rate run's VUs all idle)
            sec.vus[metric] = sec.vus.get(metric, 0.0) + sink.max
        elif metric == "loadgen_cpu" and isinstance(sink, GaugeSink) and sink.n:
            sec.cpu = max(sec.cpu or 0.0, sink.max)
        elif metric == "dropped_iterations" and isinstance(sink, CounterSink):
            sec.dropped += sink.count
        elif metric == "iterations" and isinstance(sink, CounterSink):
            sec.iterations += sink.count

    def _totals(self, iv: Interval) -> None:
        for (metric, tags), sink in iv.metrics.items():
            if metric == "http_req_duration" and isinstance(sink, TrendSink) and sink.count:
                n = self._label(_name_of(tags))
                self.dur_total.setdefault(n, _Buckets()).add(sink)
            elif metric == "http_reqs" and isinstance(sink, CounterSink):
                n = self._label(_name_of(tags))
                self.reqs_total[n] = self.reqs_total.get(n, 0.0) + sink.count
            elif metric == "http_req_failed" and isinstance(sink, RateSink):
                n = self._label(_name_of(tags))
                f = self.failed_total.setdefault(n, [0, 0])
                f[0] += sink.passes
                f[1] += sink.total

    # ---- one second closed: its numbers, then its histograms go ----------------------------
    def _close(self, key: int) -> None:
        sec = self._open.pop(key)
        self._closed_upto = max(self._closed_upto, key)
        width = (sec.width or 1.0) + sec.tail
        row: dict[str, float | None] = {
            "reqs": sum(sec.reqs.values()), "failed": float(sum(sec.failed.values())),
            "vus": sec.vus.get("vus"), "vus_max": sec.vus.get("vus_max"),
            "cpu": None if sec.cpu is None else sec.cpu * 100, "dropped": sec.dropped,
            "iterations": sec.iterations, "width": width}
        row.update(_lat("", [s for ss in sec.durations.values() for s in ss]))
        for metric in SERIES_TRENDS:
            row.update(_lat(metric + "_", sec.trends.get(metric, [])))
        self._append(float(key), row)
        for n, s in sec.durations.items():  # s: that name's sinks of this second
            self._name_row(n, {"reqs": sec.reqs.get(n, 0.0),
                               "failed": float(sec.failed.get(n, 0)), **_lat("", s)})
        for n in sec.reqs:
            if n not in sec.durations:
                self._name_row(n, {"reqs": sec.reqs[n], "failed": float(sec.failed.get(n, 0))})
        if len(self.t) > self.max_points:  # after the names' rows: they pair alike
            self._pair()

    def _append(self, t: float, row: dict[str, float | None]) -> None:
        self.t.append(t)
        i = len(self.t) - 1
        for k, v in row.items():
            col = self.cols.setdefault(k, [])
            col.extend([None] * (i - len(col)))
            col.append(v)

    def _name_row(self, name: str, row: dict[str, float | None]) -> None:
        i = len(self.t) - 1
        if name not in self.by_name:
            self.names.append(name)
        cols = self.by_name.setdefault(name, {})
        for k, v in row.items():
            col = cols.setdefault(k, [])
            col.extend([None] * (i - len(col)))
            col.append(v)

    def _pair(self) -> None:
        """Halve the rows: neighbours merged (sums for counts, the worse for the rest)."""
        self.width *= 2
        self.t = self.t[::2]
        self.cols = {k: _pair_col(k, c) for k, c in self.cols.items()}
        self.by_name = {n: {k: _pair_col(k, c) for k, c in cols.items()}
                        for n, cols in self.by_name.items()}

    # ---- out -----------------------------------------------------------------------------
    def finish(self) -> Series:
        for k in sorted(self._open):
            self._close(k)
        n = len(self.t)
        cols = {k: c + [None] * (n - len(c)) for k, c in self.cols.items()}
        by_name = {name: {k: c + [None] * (n - len(c)) for k, c in d.items()}
                   for name, d in self.by_name.items()}
        everything = _Buckets()
        for b in self.dur_total.values():
            everything.absorb(b)
        spectrum = {"all requests": everything.spectrum(),
                    **{name: b.spectrum() for name, b in self.dur_total.items()}}
        totals = {}
        for name in sorted(set(self.reqs_total) | set(self.dur_total)):
            f = self.failed_total.get(name, [0, 0])
            lat = self.dur_total[name].latency() if name in self.dur_total else {}
            totals[name] = {"count": self.reqs_total.get(name, 0.0),
                            "failed": float(f[0]), "failed_total": float(f[1]),
                            **{k: v for k, v in lat.items() if v is not None}}
        return Series(float(self.width), self.t, cols, self.names, by_name, spectrum,
                      totals, self.late)


def _lat(prefix: str, sinks: list[TrendSink]) -> dict[str, float | None]:
    """p50..p99 and max of the union of `sinks` (one second's, of one or all names).

    The sinks share one HDR unit, so their buckets line up: the union's order statistics
    are read from their (value, count) pairs put side by side, which is what merging the
    histograms would give, without building a merged histogram per second (exact values
    stay exact while an interval still had them)."""
    sinks = [s for s in sinks if not s.empty]
    if not sinks:
        return {prefix + c: None for c in LAT_COLS}
    if len(sinks) == 1 or any(s.unserved for s in sinks):
        one = sinks[0]
        if len(sinks) > 1:
            one = _trend()
            for s in sinks:
                one.merge(s)
        ps = one.percentiles(PCTS)
        mx = one.aggregate("max", 0.0)
    else:
        parts = [s.buckets() for s in sinks]
        reps = np.concatenate([r for r, _ in parts])
        counts = np.concatenate([c for _, c in parts])
        order = np.argsort(reps, kind="stable")
        mx = max(s.max for s in sinks)
        ps = k6_percentiles_of_buckets(reps[order], counts[order],
                                       min(s.min for s in sinks), mx, PCTS)
    out = {f"{prefix}p{p:g}": _finite(v) for p, v in zip(PCTS, ps, strict=True)}
    out[prefix + "max"] = _finite(mx if mx is not None else math.nan)
    return out


_SUMMED = ("reqs", "failed", "dropped", "iterations", "width")


def _pair_col(key: str, col: list[float | None]) -> list[float | None]:
    out: list[float | None] = []
    for i in range(0, len(col), 2):
        pair = [v for v in col[i:i + 2] if v is not None]
        if not pair:
            out.append(None)
        elif key in _SUMMED:
            out.append(sum(pair))
        else:
            out.append(max(pair))
    return out


class _Buckets:
    """A whole run's latencies of one request name as (value, count) pairs: the intervals'
    HDR bucket values (exact values while an interval still had them), added up without a
    dense histogram per name. Distinct values are bounded by the HDR buckets in use (plus
    the exact values the intervals carried, which they bound themselves)."""

    def __init__(self) -> None:
        self.reps = np.zeros(0)
        self.counts = np.zeros(0, dtype=np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.n = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, s: TrendSink) -> None:
        reps, counts = s.buckets()
        self._pending.append((reps, counts))
        self.n += s.count
        self.min, self.max = min(self.min, s.min), max(self.max, s.max)
        if len(self._pending) >= 64:
            self._compact()

    def absorb(self, other: _Buckets) -> None:
        other._compact()
        if other.n:
            self._pending.append((other.reps, other.counts))
            self.n += other.n
            self.min, self.max = min(self.min, other.min), max(self.max, other.max)

    def _compact(self) -> None:
        if not self._pending:
            return
        reps = np.concatenate([self.reps, *(r for r, _ in self._pending)])
        counts = np.concatenate([self.counts, *(c for _, c in self._pending)])
        self._pending = []
        self.reps, inverse = np.unique(reps, return_inverse=True)
        self.counts = np.bincount(inverse, weights=counts).astype(np.int64)

    def percentiles(self, ps: Sequence[float]) -> list[float]:
        self._compact()
        return k6_percentiles_of_buckets(self.reps, self.counts, self.min, self.max, ps)

    def latency(self) -> dict[str, float | None]:
        if not self.n:
            return {c: None for c in LAT_COLS}
        out: dict[str, float | None] = {
            f"p{p:g}": v for p, v in zip(PCTS, self.percentiles(PCTS), strict=True)}
        out["max"] = self.max
        return out

    def spectrum(self) -> list[tuple[float, float]]:
        """(percentile, latency ms) pairs up to the resolution the sample count supports."""
        if not self.n:
            return []
        ps = [p for p in SPECTRUM if p == 0 or 1 / (1 - p / 100) <= self.n]
        return list(zip(ps, self.percentiles(ps), strict=True))


def series_json(series: Series) -> dict[str, Any]:
    """The part of the series the page needs (plain JSON)."""
    return {"width_s": series.width_s, "t": series.t, "cols": series.cols,
            "names": series.names, "by_name": series.by_name}
