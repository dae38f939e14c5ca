"""Windowed thresholds: `p(99) over 1m < 300` holds for every full sliding minute of the run.

A whole-run p(99) hides a bad minute in a long soak; k6 has no window. The run is cut into
one-second interval snapshots (results/interval.py); for each windowed threshold the cut's
samples of its metric (tag sets matching its selector) become one compact per-second
aggregate, the last `window` of them are kept (bounded: at most 3600), and after every cut
that completes a window, the window's aggregate is compared. The threshold fails as soon as
one full window breaks it (and stays failed: abortOnFail can act on it during the run);
a run that never filled one window is undecided and counts as failed, with a warning.

Only the load is windowed: seconds before the executors start (setup(), a fleet's workers
starting) are skipped, a window starts at the threshold's first sample and is judged when
it ends on a second with samples, so the tail (graceful stop, teardown) is never a window;
an outage inside the load at least a window long is judged as an empty window when samples
come back (`count over 1m > 100` fails on it; trends and rates have nothing to compare).

Per-second trend aggregates are log-linear histograms with 2**8 sub-buckets per power of two
(each value within 0.2%); count, sum, min and max are exact. A trend window's bucket counts
are kept dense and slid (+ the new second, - the one that left), so judging a window costs
O(its seconds) for min/max/count plus one scan of the dense counts, not a merge of every
second: a 1 h window of 2,000 values/s is judged in ~1 ms and holds ~25 MB.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from loadgen import thresholds as th
from loadgen.metrics.histogram import TrendSink
from loadgen.metrics.model import MetricType
from loadgen.metrics.percentiles import k6_percentiles_of_buckets
from loadgen.metrics.sinks import CounterSink, RateSink
from loadgen.metrics.timeseries import _EMAX, _EMIN, TrendAgg
from loadgen.results.interval import Interval

SUB_BITS = 8
#: the dense window histogram's length: every bucket TrendAgg.index can give at SUB_BITS
DENSE = (_EMAX - _EMIN + 1) << SUB_BITS
MAX_PENDING = 8  # seconds waiting for a fleet's slower workers (bounded)


def merge_seconds(a: Second, b: Second) -> Second:
    """Two sources' samples of the same second (fleet workers), added up exactly."""
    trend = a.trend
    if b.trend is not None:
        if trend is None:
            trend = b.trend
        else:
            trend.merge(b.trend)
    return Second(a.seconds, trend, a.count + b.count, a.n + b.n, a.passes + b.passes,
                  a.total + b.total, a.unserved + b.unserved)


def second_trend(sink: TrendSink) -> TrendAgg:
    """One second of a trend as a compact histogram (its exact values or HDR buckets)."""
    agg = TrendAgg(SUB_BITS)
    if sink.count == 0:
        return agg
    reps, counts = sink.buckets()
    finite = np.isfinite(reps)
    reps, counts = reps[finite], counts[finite]
    if len(reps):
        agg._merge_counts(agg.index(reps), counts.astype(np.int64))
    agg.count, agg.sum = int(counts.sum()), sink.sum
    agg.min, agg.max = sink.min, sink.max
    return agg


@dataclass
class Second:
    """One cut's samples of one threshold's metric: trend histogram, or count/rate sums."""

    seconds: float
    trend: TrendAgg | None = None
    count: float = 0.0
    n: int = 0
    passes: int = 0
    total: int = 0
    #: open-model iterations never served (dropped): ranked above every served value
    unserved: int = 0

    @property
    def has_samples(self) -> bool:
        return bool(self.n or self.total or self.unserved or (
            self.trend is not None and self.trend.count))


def merge_trends(aggs: list[TrendAgg]) -> TrendAgg:
    """The window's histogram in one pass (one bincount over every second's buckets, not a
    merge per second): O(the window's stored buckets)."""
    out = TrendAgg(SUB_BITS)
    full = [a for a in aggs if a.count]
    if not full:
        return out
    out.count = sum(a.count for a in full)
    out.sum = sum(a.sum for a in full)
    out.min = min(a.min for a in full)
    out.max = max(a.max for a in full)
    idx = np.concatenate([a.idx.astype(np.int64) for a in full])
    cnt = np.concatenate([a.cnt.astype(np.int64) for a in full])
    if len(idx):
        bc = np.bincount(idx, weights=cnt, minlength=0)
        nz = np.flatnonzero(bc)
        out.idx, out.cnt = nz.astype(np.uint16), bc[nz].astype(np.int64)
    return out


def from_dense(aggs: list[TrendAgg], dense: np.ndarray) -> TrendAgg:
    """The window's histogram from its running dense counts (kept by sliding: + the new
    second, - the one that left), with count, sum, min and max from the seconds."""
    out = TrendAgg(SUB_BITS)
    full = [a for a in aggs if a.count]
    if full:
        out.count = sum(a.count for a in full)
        out.sum = sum(a.sum for a in full)
        out.min = min(a.min for a in full)
        out.max = max(a.max for a in full)
        nz = np.flatnonzero(dense)
        out.idx, out.cnt = nz.astype(np.uint16), dense[nz]
    return out


def window_value(expr: th.Expression, mtype: MetricType, parts: list[Second],
                 dense: np.ndarray | None = None) -> float | None:
    """The expression's aggregate over the window (None: no samples, nothing to compare)."""
    if mtype is MetricType.COUNTER:
        count = sum(p.count for p in parts)
        if expr.method == "count":
            return count
        seconds = sum(p.seconds for p in parts)
        return count / seconds if seconds > 0 else 0.0
    if mtype is MetricType.RATE:
        total = sum(p.total for p in parts)
        return sum(p.passes for p in parts) / total if total else None
    aggs = [p.trend for p in parts if p.trend is not None]
    agg = merge_trends(aggs) if dense is None else from_dense(aggs, dense)
    unserved = sum(p.unserved for p in parts)
    if agg.count == 0 and not unserved:
        return None
    # as the whole run's trend: unserved ranks above every served value (max is +inf),
    # avg and min describe the served ones
    if expr.method == "max" and unserved or agg.count == 0:
        return math.inf
    if expr.method == "avg":
        return agg.sum / agg.count
    if expr.method == "min":
        return agg.min
    if expr.method == "max":
        return agg.max
    q = 50.0 if expr.method == "med" else float(expr.percentile or 0.0)
    if unserved:
        n, total = agg.count, agg.count + unserved
        rank = min(max(q / 100 * (total - 1), 0.0), total - 1.0)
        if rank > n - 1:
            return math.inf
        q = rank / (n - 1) * 100 if n > 1 else 0.0
    return float(k6_percentiles_of_buckets(agg.midpoints(), agg.cnt, agg.min, agg.max,
                                           (q,))[0])


@dataclass
class Tracked:
    """One windowed threshold: its last `size` seconds and its verdict so far."""

    key: str
    index: int
    parent: str
    tags: tuple[tuple[str, str], ...]
    mtype: MetricType
    expr: th.Expression
    source: str
    size: int
    parts: deque[Second] = field(default_factory=deque)
    full_windows: int = 0
    ok: bool | None = None  # None: no full window yet
    observed: float | None = None  # the first breaking window's value, else the latest

    #: trends: the window's bucket counts, slid one second at a time (O(new buckets))
    dense: np.ndarray | None = None
    _empty_run: int = 0  # seconds without samples since the last one with
    _seen: bool = False  # any second with samples yet
    _since_first: int = 0  # seconds from the first one with samples on

    def add(self, second: Second) -> None:
        """The next second. A window is judged when it ends on a second with samples: one
        that ends on an empty second may be the run's tail (graceful stop, teardown), so it
        waits; when samples come back after a gap at least a window long, the all-empty
        window in it is judged too (a counter's `count over 1m > 100` catches the outage),
        unless the gap came before any sample (the load starting up)."""
        self.parts.append(second)
        self._slide(second.trend, +1)
        if len(self.parts) > self.size:
            self._slide(self.parts.popleft().trend, -1)
        if self._seen or second.has_samples:
            self._since_first += 1  # windows start at the first sample, not before it
        if not second.has_samples:
            self._empty_run += 1
            return
        gap, self._empty_run = self._empty_run, 0
        seen, self._seen = self._seen, True
        if gap >= self.size and seen:  # an outage inside the load, not its slow start
            self._judge(window_value(self.expr, self.mtype, [Second(1.0)] * self.size))
        if self._since_first >= self.size:
            self._judge(window_value(self.expr, self.mtype, list(self.parts), self.dense))

    def _judge(self, value: float | None) -> None:
        if self.ok is False:
            return  # the first breaking window is the one reported
        self.full_windows += 1
        self.observed = value
        self.ok = value is None or self.expr.compare(value)

    def _slide(self, agg: TrendAgg | None, sign: int) -> None:
        if agg is None or not len(agg.idx):
            return
        if self.dense is None:
            self.dense = np.zeros(DENSE, dtype=np.int64)
        self.dense[agg.idx.astype(np.int64)] += sign * agg.cnt.astype(np.int64)


class Windows:
    """Every windowed threshold of a run, fed one interval snapshot per second."""

    def __init__(self, tset: th.ThresholdSet) -> None:
        self.tracked: dict[tuple[str, int], Tracked] = {}
        for mt in tset.metrics:
            for i, spec in enumerate(mt.specs):
                w = spec.expression.window_ns
                if w is not None:
                    self.tracked[(mt.name, i)] = Tracked(
                        mt.name, i, mt.parent, mt.tags or (), mt.type, spec.expression,
                        spec.source, int(w // 1_000_000_000))
        self.elapsed_s = 0.0
        self._pending: dict[int, dict[tuple[str, int], Second]] = {}
        self._last: int | None = None  # the last second judged
        #: seconds (of the run) before this one are not the load: setup(), a fleet's workers
        #: starting (None: wait until the engine says when the executors start)
        self.start_s: float | None = 0.0

    def wait_for_load(self) -> None:
        """A live run: judge nothing until `load_started` (setup() may take a while)."""
        self.start_s = None

    def load_started(self, start_s: float) -> None:
        """The executors' start, in seconds since the run started."""
        self.start_s = start_s

    def __bool__(self) -> bool:
        return bool(self.tracked)

    def add(self, iv: Interval) -> None:
        """One interval snapshot (about a second; a fleet sends one per worker per second):
        it counts for the second its end rounds to. A second is judged once snapshots two
        seconds later arrive (a fleet's workers are not in step), or at `flush()`."""
        k = math.floor(iv.end_s + 0.5)
        if self._last is not None and k <= self._last:
            k = self._last + 1  # late: counted in the first second still open
        self.elapsed_s = max(self.elapsed_s, iv.end_s)
        seconds = self._pending.setdefault(k, {})
        for key, t in self.tracked.items():
            part = self._second(t, iv)
            have = seconds.get(key)
            seconds[key] = part if have is None else merge_seconds(have, part)
        for done in sorted(x for x in self._pending if x <= k - 2):
            self._close(done)
        if len(self._pending) > MAX_PENDING:  # a clock jump: judge what is there
            for done in sorted(self._pending)[:-MAX_PENDING]:
                self._close(done)

    def flush(self) -> None:
        """The end of the run: every second still open is judged."""
        for done in sorted(self._pending):
            self._close(done)

    def _close(self, k: int) -> None:
        seconds = self._pending.pop(k)
        # a second less than 3/4 inside the load (before the executors started) is skipped
        if self.start_s is None or k - 1 < self.start_s - 0.25:
            return
        gap = 0 if self._last is None else k - self._last - 1
        self._last = k
        for key, t in self.tracked.items():
            for _ in range(min(gap, t.size)):  # seconds nobody reported: no samples
                t.add(Second(1.0))
            t.add(seconds.get(key) or Second(1.0))

    @staticmethod
    def _second(t: Tracked, iv: Interval) -> Second:
        out = Second(1.0)
        want = set(t.tags)
        for (name, tags), sink in iv.metrics.items():
            if name != t.parent or not want.issubset(tags):
                continue
            if isinstance(sink, TrendSink):
                out.unserved += sink.unserved
                agg = second_trend(sink)
                if out.trend is None:
                    out.trend = agg
                else:
                    out.trend.merge(agg)
            elif isinstance(sink, CounterSink):
                out.count += sink.count
                out.n += sink.n
            elif isinstance(sink, RateSink):
                out.passes += sink.passes
                out.total += sink.total
        return out

    def ok(self, key: str, index: int) -> bool | None:
        """For thresholds.evaluate: False once a full window broke it, None before any."""
        t = self.tracked.get((key, index))
        return None if t is None else t.ok

    def observed(self, key: str, index: int) -> float | None:
        """The breaking window's value, else the latest full one's (+inf: unserved)."""
        t = self.tracked.get((key, index))
        return None if t is None else t.observed

    def shown(self) -> list[tuple[str, str, float]]:
        """(key, `p(99) over 1m`, value) of every decided window, for the text summary (an
        undecided one is left out: the summary shows `?`)."""
        out = []
        for t in self.tracked.values():
            v = self.observed(t.key, t.index)
            if t.ok is not None and v is not None:
                out.append((t.key, re.split(r"[=><!]", t.source)[0].strip(), v))
        return out

    def undecided(self) -> list[str]:
        """Warnings for the thresholds whose window never filled (counted as failed)."""
        return [f"threshold on {t.key} '{t.source}': the run ({self.elapsed_s:.0f} s of "
                f"data) never filled one {t.size} s window, so it is undecided (?); counted "
                "as failed" for t in self.tracked.values() if t.ok is None]
