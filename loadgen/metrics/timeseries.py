"""A bounded time series of per-interval aggregates, for verdicts (spike recovery, soak drift).

Fed by the ingest loop with the same batches as the sinks, keyed by each record's own time
(not by when the batch was ingested). Buckets are aligned dyadic intervals: a bucket of
`level` L and `index` i covers [i * 2**L, (i + 1) * 2**L) base intervals (1 s by default).
When there are more than `max_buckets`, the oldest half is promoted one level (each bucket
merged with its sibling), so old data loses resolution by halves while memory stays bounded:
a 4-hour soak at 1 s keeps the last ~half hour near 1 s and the start at ~8 s. Aligned
intervals never straddle, so a merged bucket is exactly the union of its children.

Per bucket, per tracked metric and per scenario (tag `scenario`, "" when absent) an
aggregate mergeable without loss: counters (sum), rates (passes/total), gauges (last, min,
max) and trends (count, sum, min, max and a sparse log-linear histogram with 2**sub_bits
sub-buckets per octave: 64 by default, so percentiles are within 0.78% relative, clamped to
the exact min/max). Queries over all scenarios merge the per-scenario aggregates.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

import numpy as np

from loadgen.metrics.histogram import k6_percentiles_of_buckets
from loadgen.metrics.model import Metric, MetricType

DEFAULT_METRICS = (
    "http_reqs", "http_req_failed", "iterations", "dropped_iterations", "vus",
    "http_req_duration", "iteration_duration", "iteration_lag", "iteration_latency",
)
TREND_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
_EMIN, _EMAX = -40, 60  # binary exponents kept apart (values ~1e-12 .. ~1e18)


class TrendAgg:
    """count/sum/min/max plus a sparse log-linear histogram (sorted uint16 idx, counts)."""

    __slots__ = ("sub_bits", "count", "sum", "min", "max", "idx", "cnt")

    def __init__(self, sub_bits: int = 6) -> None:
        self.sub_bits = sub_bits
        self.count = 0
        self.sum = 0.0
        self.min = 0.0
        self.max = 0.0
        self.idx = np.zeros(0, dtype=np.uint16)
        self.cnt = np.zeros(0, dtype=np.int64)

    def index(self, v: np.ndarray) -> np.ndarray:
        """Bucket of each value: exponent band then linear sub-bucket (<= 0 -> bucket 0)."""
        h = 1 << self.sub_bits
        m, e = np.frexp(v)
        sub = np.clip(((m * 2 - 1) * h).astype(np.int64), 0, h - 1)
        idx = (np.clip(e, _EMIN, _EMAX).astype(np.int64) - _EMIN) * h + sub
        idx[e < _EMIN] = 0
        idx[~(v > 0)] = 0
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
        self.min = lo if self.count == 0 else min(self.min, lo)
        self.max = hi if self.count == 0 else max(self.max, hi)
        self.count += len(v)
        self.sum += float(np.add.reduce(v))
        self._merge_counts(self.index(v), None)

    def _merge_counts(self, idx: np.ndarray, cnt: np.ndarray | None) -> None:
        if len(self.idx):
            idx = np.concatenate([self.idx.astype(np.int64), idx])
            ones = np.ones(len(idx) - len(self.idx), dtype=np.int64) if cnt is None else cnt
            cnt = np.concatenate([self.cnt, ones])
        base = int(idx.min())
        bc = np.bincount(idx - base, weights=cnt)
        nz = np.flatnonzero(bc)
        self.idx = (nz + base).astype(np.uint16)
        self.cnt = bc[nz].astype(np.int64)

    def merge(self, other: TrendAgg) -> None:
        if other.count == 0:
            return
        self.min = other.min if self.count == 0 else min(self.min, other.min)
        self.max = other.max if self.count == 0 else max(self.max, other.max)
        self.count += other.count
        self.sum += other.sum
        self._merge_counts(other.idx.astype(np.int64), other.cnt)

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
        max_buckets: int = 3600,
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
        self._scenarios: list[str] = []
        self._scenario_no: dict[str, int] = {}
        self._buckets: list[Bucket] = []
        self._starts: list[int] = []

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
        n = len(values)
        if n == 0:
            return
        self.types.setdefault(metric.name, metric.type)
        k = (t_ns - self.origin_ns) // self.interval_ns
        k0, k1 = int(k.min()), int(k.max())
        if isinstance(scen, np.ndarray):
            s0, s1 = int(scen.min()), int(scen.max())
        else:
            s0 = s1 = scen
        if k0 == k1 and s0 == s1:
            self._agg(k0, metric, s0).add(values)
            return
        span = s1 - s0 + 1
        key = (k - k0) * span + ((scen - s0) if isinstance(scen, np.ndarray) else 0)
        uniq, inv = np.unique(key, return_inverse=True)
        for j, u in enumerate(uniq.tolist()):
            sel = inv == j
            self._agg(k0 + u // span, metric, s0 + u % span).add(values[sel])

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
        """Promote the oldest half one level until at most max_buckets remain."""
        bs = self._buckets
        while len(bs) > self.max_buckets:
            for b in bs[: len(bs) // 2]:
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
        return list(self._scenarios)

    def buckets(
        self, metric: str, scenario: str | None = None
    ) -> list[tuple[float, float, dict[str, float]]]:
        """(t_start_s, t_end_s, aggregates) per interval, oldest first; times from origin.

        Every interval that holds any data is listed; one without samples of `metric` shows
        zero aggregates (counts 0). Intervals in which nothing at all was recorded are absent.
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
        out: list[tuple[float, float, dict[str, float]]] = []
        for b in self._buckets:
            agg = new_agg(mtype, self.sub_bits)
            for s in scens:
                part = b.data.get((metric, s))
                if part is not None:
                    merge_agg(agg, part)
            width = w * (1 << b.level)
            out.append((b.start * w, b.end * w, agg.values(width)))
        return out
