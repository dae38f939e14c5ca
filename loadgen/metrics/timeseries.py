"""A bounded time series of per-interval aggregates, for verdicts (spike recovery, soak drift).

Fed by the ingest loop with the same batches as the sinks, keyed by each record's own time
(not by when the batch was ingested). Buckets are aligned dyadic intervals: a bucket of
`level` L and `index` i covers [i * 2**L, (i + 1) * 2**L) base intervals (1 s by default).
When there are more than `max_buckets`, pairs of sibling buckets in the older half are
merged into their parent (one level up), so old data loses resolution by halves while the
newer half stays at 1 s and memory stays bounded. Aligned intervals never straddle, so a
merged bucket is exactly the union of its children.

Per bucket, per tracked metric and per scenario (tag `scenario`, "" when absent) an
aggregate mergeable without loss: counters (sum), rates (passes/total), gauges (last, min,
max) and trends (count, sum, min, max and a sparse log-linear histogram with 2**sub_bits
sub-buckets per octave: 64 by default, so percentiles are within 0.78% relative, clamped to
the exact min/max). Queries over all scenarios merge the per-scenario aggregates.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable

import numpy as np

from loadgen.metrics.model import Metric, MetricType
from loadgen.metrics.percentiles import k6_percentiles_of_buckets

DEFAULT_METRICS = (
    "http_reqs", "http_req_failed", "iterations", "dropped_iterations", "vus",
    "http_req_duration", "iteration_duration", "iteration_lag", "iteration_latency",
)
TREND_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
#: Intervals kept: the newer half stays at 1 s (the last ~2 minutes, where the live readers
#: and monitors look), older ones halve their resolution as the run goes on. 3,600 kept an
#: hour at 1 s: ~10 KB per second of run at 500 req/s, so RSS climbed for the first hour
#: (+5 MB per 10 minutes); 256 stop growing after ~4 minutes at ~2.5 MB in all, and still
#: hold a default spike (5 minutes) at 1 s and >= 50 intervals per soak window.
MAX_BUCKETS = 256
_EMIN, _EMAX = -40, 60  # binary exponents kept apart (values ~1e-12 .. ~1e18)
Group = tuple[int, int, "np.ndarray | None"]  # (interval no., scenario no., row mask)


class TrendAgg:
    """count/sum/min/max plus a sparse log-linear histogram (sorted uint16 idx, counts).

    6 bytes per non-empty bucket: a second of traffic typically fills 100-300 of them.
    """

    __slots__ = ("sub_bits", "count", "sum", "min", "max", "idx", "cnt")

    def __init__(self, sub_bits: int = 6) -> None:
        self.sub_bits = sub_bits
        self.count = 0
        self.sum = 0.0
        self.min = 0.0
        self.max = 0.0
        self.idx = np.zeros(0, dtype=np.uint16)
        self.cnt = np.zeros(0, dtype=np.uint32)

    def index(self, v: np.ndarray) -> np.ndarray:
        """Bucket of each value: exponent band then linear sub-bucket (<= 0 -> bucket 0).

        Read straight from the float64 bits: (biased exponent, top sub_bits mantissa bits).
        """
        sb = self.sub_bits
        idx: np.ndarray = np.ascontiguousarray(v, dtype=np.float64).view(np.int64) >> (52 - sb)
        idx -= (1022 + _EMIN) << sb  # frexp exponent e = biased - 1022
        np.maximum(idx, 0, out=idx)  # negatives (sign bit), zero, tiny
        np.minimum(idx, ((_EMAX - _EMIN + 1) << sb) - 1, out=idx)  # huge, inf
        return idx

    def midpoints(self) -> np.ndarray:
        h = 1 << self.sub_bits
        i = self.idx.astype(np.int64)
        e = i // h + _EMIN
        return np.ldexp(1.0 + ((i % h) + 0.5) / h, e - 1)

    def add(self, v: np.ndarray) -> None:
        if not len(v):
            return
        lo, hi = float(v.min()), float(v.max())
        if hi == math.inf:  # unserved work: counted by the sinks, not a per-second value
            v = v[v != math.inf]
            if not len(v):
                return
            lo, hi = float(v.min()), float(v.max())
        self.min = lo if self.count == 0 else min(self.min, lo)
        self.max = hi if self.count == 0 else max(self.max, hi)
        self.count += len(v)
        self.sum += float(np.add.reduce(v))
        self._merge_counts(self.index(v), None)

    def add_counts(self, v: np.ndarray, counts: np.ndarray) -> None:
        """Values each seen `counts` times (another sink's buckets); non-finite ones are
        left out, as in `add`."""
        keep = np.isfinite(v) & (counts > 0)
        v, counts = v[keep], np.asarray(counts, dtype=np.int64)[keep]
        if not len(v):
            return
        lo, hi = float(v[0] if len(v) == 1 else v.min()), float(v.max())
        self.min = lo if self.count == 0 else min(self.min, lo)
        self.max = hi if self.count == 0 else max(self.max, hi)
        self.count += int(counts.sum())
        self.sum += float(np.dot(v, counts))
        self._merge_counts(self.index(v), counts)

    def _merge_counts(self, idx: np.ndarray, cnt: np.ndarray | None) -> None:
        if len(self.idx):
            idx = np.concatenate([self.idx.astype(np.int64), idx])
            ones = np.ones(len(idx) - len(self.idx), dtype=np.int64) if cnt is None else cnt
            cnt = np.concatenate([self.cnt.astype(np.int64), ones])
        base = int(idx.min())
        bc = np.bincount(idx - base, weights=cnt)
        nz = np.flatnonzero(bc)
        self.idx = (nz + base).astype(np.uint16)
        counts = bc[nz]  # uint32 halves the memory of the long-run buckets while it fits
        self.cnt = counts.astype(np.uint32 if counts.max() < 2**32 else np.int64)

    def merge(self, other: TrendAgg) -> None:
        if other.count == 0:
            return
        self.min = other.min if self.count == 0 else min(self.min, other.min)
        self.max = other.max if self.count == 0 else max(self.max, other.max)
        self.count += other.count
        self.sum += other.sum
        self._merge_counts(other.idx.astype(np.int64), other.cnt.astype(np.int64))

    def values(self, width_s: float) -> dict[str, float]:
        if self.count == 0:
            return {"count": 0, "avg": 0.0, "min": 0.0, "max": 0.0,
                    **{f"p{p:g}": 0.0 for p in TREND_PERCENTILES}}
        ps = k6_percentiles_of_buckets(
            self.midpoints(), self.cnt, self.min, self.max, TREND_PERCENTILES)
        out = {"count": self.count, "avg": self.sum / self.count, "min": self.min,
               "max": self.max}
        out.update({f"p{p:g}": v for p, v in zip(TREND_PERCENTILES, ps, strict=True)})
        return out


class CounterAgg:
    __slots__ = ("total", "n")

    def __init__(self) -> None:
        self.total = 0.0
        self.n = 0

    def add(self, v: np.ndarray) -> None:
        self.total += float(np.add.reduce(v))
        self.n += len(v)

    def merge(self, other: CounterAgg) -> None:
        self.total += other.total
        self.n += other.n

    def values(self, width_s: float) -> dict[str, float]:
        return {"count": self.total, "rate": self.total / width_s if width_s > 0 else 0.0}


class RateAgg:
    """For http_req_failed, `passes` are the failed requests (non-zero samples)."""

    __slots__ = ("passes", "total")

    def __init__(self) -> None:
        self.passes = 0
        self.total = 0

    def add(self, v: np.ndarray) -> None:
        self.passes += int(np.count_nonzero(v))
        self.total += len(v)

    def merge(self, other: RateAgg) -> None:
        self.passes += other.passes
        self.total += other.total

    def values(self, width_s: float) -> dict[str, float]:
        return {"rate": self.passes / self.total if self.total else 0.0,
                "passes": self.passes, "fails": self.total - self.passes, "total": self.total}


class GaugeAgg:
    __slots__ = ("last", "min", "max", "n")

    def __init__(self) -> None:
        self.last = self.min = self.max = 0.0
        self.n = 0

    def add(self, v: np.ndarray) -> None:
        if not len(v):
            return
        lo, hi = float(v.min()), float(v.max())
        self.min = lo if self.n == 0 else min(self.min, lo)
        self.max = hi if self.n == 0 else max(self.max, hi)
        self.last = float(v[-1])
        self.n += len(v)

    def merge(self, other: GaugeAgg) -> None:
        """`other` is the later interval (its last value wins)."""
        if other.n == 0:
            return
        self.min = other.min if self.n == 0 else min(self.min, other.min)
        self.max = other.max if self.n == 0 else max(self.max, other.max)
        self.last = other.last
        self.n += other.n

    def values(self, width_s: float) -> dict[str, float]:
        return {"value": self.last, "min": self.min, "max": self.max}


Agg = TrendAgg | CounterAgg | RateAgg | GaugeAgg


def new_agg(mtype: MetricType, sub_bits: int = 6) -> Agg:
    if mtype is MetricType.TREND:
        return TrendAgg(sub_bits)
    if mtype is MetricType.COUNTER:
        return CounterAgg()
    if mtype is MetricType.RATE:
        return RateAgg()
    return GaugeAgg()


def merge_agg(into: Agg, other: Agg) -> None:
    into.merge(other)  # type: ignore[arg-type]  # same metric -> same agg type


class Bucket:
    """One aligned interval: [index << level, (index + 1) << level) base intervals."""

    __slots__ = ("level", "index", "data")

    def __init__(self, level: int, index: int) -> None:
        self.level = level
        self.index = index
        self.data: dict[tuple[str, int], Agg] = {}  # (metric name, scenario no.) -> agg

    @property
    def start(self) -> int:
        return self.index << self.level

    @property
    def end(self) -> int:
        return (self.index + 1) << self.level

    def absorb(self, other: Bucket) -> None:
        """Merge `other` (a bucket inside this one's span, usually later) into this one."""
        for key, agg in other.data.items():
            mine = self.data.get(key)
            if mine is None:
                self.data[key] = agg
            else:
                merge_agg(mine, agg)


class TimeSeries:
    """Per-interval aggregates of a few metrics, bounded to about `max_buckets` intervals."""

    def __init__(
        self,
        origin_ns: int = 0,
        *,
        interval_s: float = 1.0,
        max_buckets: int = MAX_BUCKETS,
        metrics: Iterable[str] = DEFAULT_METRICS,
        extra: Iterable[str] = (),
        sub_bits: int = 6,
    ) -> None:
        if max_buckets < 2 or not 0 < sub_bits <= 9 or interval_s <= 0:
            raise ValueError("max_buckets >= 2, 0 < sub_bits <= 9, interval_s > 0")
        self.origin_ns = origin_ns
        self.interval_ns = round(interval_s * 1e9)
        self.max_buckets = max_buckets
        self.sub_bits = sub_bits
        self.names: set[str] = set(metrics) | set(extra)
        self.types: dict[str, MetricType] = {}
        self._scenarios: list[str] = [""]  # no. 0: samples without a scenario tag
        self._scenario_no: dict[str, int] = {"": 0}
        self._buckets: list[Bucket] = []
        self._starts: list[int] = []
        #: intervals visited by queries so far: what a per-tick reader costs, for tests
        #: that prove the cost does not grow with the run's length
        self.visited = 0

    # ---- feeding ----------------------------------------------------------------------------
    def wants(self, metric: Metric) -> bool:
        return metric.name in self.names

    def scenario_no(self, scenario: str) -> int:
        """Small integer for a scenario name (ingest computes it once per tag set)."""
        no = self._scenario_no.get(scenario)
        if no is None:
            no = self._scenario_no[scenario] = len(self._scenarios)
            self._scenarios.append(scenario)
        return no

    def add(
        self, metric: Metric, t_ns: np.ndarray, values: np.ndarray, scen: np.ndarray | int = 0
    ) -> None:
        """Add samples of one metric: times (ns, same clock as origin), values, scenario no."""
        if len(values):
            self.add_grouped(metric, values, self.groups(t_ns, scen))

    def groups(self, t_ns: np.ndarray, scen: np.ndarray | int = 0) -> list[Group]:
        """Split rows by (interval, scenario): [(interval no., scenario no., rows or None)].

        Ingest computes this once per batch and reuses it for every metric of those rows.
        """
        k = (t_ns - self.origin_ns) // self.interval_ns
        k0, k1 = int(k.min()), int(k.max())
        if isinstance(scen, np.ndarray):
            s0, s1 = int(scen.min()), int(scen.max())
        else:
            s0 = s1 = scen
        if k0 == k1 and s0 == s1:
            return [(k0, s0, None)]
        span = s1 - s0 + 1
        key = (k - k0) * span
        if isinstance(scen, np.ndarray):
            key += scen - s0
        if (k1 - k0 + 1) * span <= 256:  # the usual case: an interval or two, few scenarios
            present: list[int] = np.flatnonzero(np.bincount(key)).tolist()
            return [(k0 + u // span, s0 + u % span, key == u) for u in present]
        uniq, inv = np.unique(key, return_inverse=True)
        return [(k0 + u // span, s0 + u % span, inv == j) for j, u in enumerate(uniq.tolist())]

    def add_grouped(self, metric: Metric, values: np.ndarray, groups: list[Group]) -> None:
        self.types.setdefault(metric.name, metric.type)
        for k, scen, sel in groups:
            self._agg(k, metric, scen).add(values if sel is None else values[sel])

    def absorb(self, k: int, metric: Metric, scenario: str, agg: Agg) -> None:
        """Merge an aggregate of interval `k` (another process's, same interval length and
        sub_bits) as if its samples had been added here: exact, aggregates are sums."""
        self.types.setdefault(metric.name, metric.type)
        merge_agg(self._agg(k, metric, self.scenario_no(scenario)), agg)

    def _agg(self, k: int, metric: Metric, scen: int) -> Agg:
        b = self._bucket_for(k)
        key = (metric.name, scen)
        agg = b.data.get(key)
        if agg is None:
            agg = b.data[key] = new_agg(metric.type, self.sub_bits)
        return agg

    def _bucket_for(self, k: int) -> Bucket:
        bs = self._buckets
        if bs and bs[-1].start <= k < bs[-1].end:
            return bs[-1]
        pos = bisect.bisect_right(self._starts, k)
        if pos and k < bs[pos - 1].end:
            return bs[pos - 1]
        b = Bucket(0, k)
        bs.insert(pos, b)
        self._starts.insert(pos, k)
        if len(bs) > self.max_buckets:
            self._compact()
            return self._bucket_for(k)
        return b

    def _compact(self) -> None:
        """Merge pairs among the older half until at most max_buckets remain.

        Each round promotes the finest buckets of the older half one level (a bucket and
        its sibling become their parent), so levels never increase towards the present and
        the newer half stays at full resolution. A promotion whose parent would reach past
        the newest bucket is skipped (it would swallow the present), unless nothing else
        can move.
        """
        bs = self._buckets
        while len(bs) > self.max_buckets:
            older = bs[: len(bs) // 2]
            finest = min(b.level for b in older)
            newest_end = bs[-1].end
            movable = [b for b in older if b.level == finest]
            promote = [b for b in movable if ((b.index >> 1) + 1) << (b.level + 1) <= newest_end]
            for b in promote or movable[:1]:
                b.level += 1
                b.index >>= 1
            bs.sort(key=lambda b: (b.start, -b.level))
            out: list[Bucket] = []
            for b in bs:
                if out and b.start < out[-1].end:  # aligned: overlapping means nested
                    out[-1].absorb(b)
                else:
                    out.append(b)
            bs = out
        self._buckets = bs
        self._starts = [b.start for b in bs]

    # ---- queries ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._buckets)

    def scenarios(self) -> list[str]:
        """Scenario names seen (besides "", which holds samples without a scenario tag)."""
        return self._scenarios[1:]

    def buckets(
        self, metric: str, scenario: str | None = None, since_s: float | None = None,
        until_s: float | None = None, present_only: bool = False,
    ) -> list[tuple[float, float, dict[str, float]]]:
        """(t_start_s, t_end_s, aggregates) per interval, oldest first; times from origin.

        `since_s`/`until_s`: only intervals that end after `since_s` and start before
        `until_s` (what a live writer has not seen yet, a monitor's window), found by
        bisection, so a reader that asks every second does work for those intervals only.
        Aggregates are computed per call and not kept: nothing here grows with reads.

        Every interval that holds any data is listed; one without samples of `metric` shows
        zero aggregates (counts 0), unless `present_only` (then it is left out, as are
        intervals in which nothing at all was recorded).
        `scenario=None` merges all scenarios; "" is samples without a scenario tag.
        Aggregates: counter {count, rate (per s)}, rate {rate, passes, fails, total}, gauge
        {value, min, max}, trend {count, avg, min, max, p50, p90, p95, p99}.
        """
        mtype = self.types.get(metric)
        if mtype is None:
            return []
        if scenario is None:
            scens = list(range(len(self._scenarios)))
        elif scenario in self._scenario_no:
            scens = [self._scenario_no[scenario]]
        else:
            scens = []
        w = self.interval_ns / 1e9
        first = 0
        if since_s is not None and since_s > float("-inf"):
            # buckets are sorted and disjoint: skip those that ended at or before since_s
            first = max(0, bisect.bisect_right(self._starts, int(since_s / w)) - 1)
        out: list[tuple[float, float, dict[str, float]]] = []
        for b in self._buckets[first:] if first else self._buckets:
            if until_s is not None and b.start * w >= until_s:
                break
            self.visited += 1
            if since_s is not None and b.end * w <= since_s:
                continue
            agg = new_agg(mtype, self.sub_bits)
            found = False
            for s in scens:
                part = b.data.get((metric, s))
                if part is not None:
                    merge_agg(agg, part)
                    found = True
            if present_only and not found:
                continue
            out.append((b.start * w, b.end * w, agg.values(w * (1 << b.level))))
        return out
