"""Interval snapshots: a run's results cut into mergeable, serialisable per-interval deltas.

A coordinator (a `loadgen merge` over archives today, the `--workers` coordinator next)
needs each process's results in a form that adds up exactly. `IntervalRecorder` ingests the
same record batches as the run's Store and, every interval, hands out an `Interval` holding
only what arrived since the last cut (work per cut is O(new data)):

- per metric and tag set, the sink's exact aggregates: counter sum and sample count, rate
  hits/total, gauge last/min/max, trend count/sum/min/max/unserved with either every value
  (while the tag set has seen fewer than EXACT_LIMIT, so small runs stay exact) or the HDR
  histograms in the standard HdrHistogram V2 compressed encoding. Trend histograms use one
  fixed unit per kind of value (UNIT_EXP), so two processes' buckets always line up and a
  merge is a sum of counts; checks and groups are the `checks` / `group_duration` entries;
- the time series' per-interval aggregates (the same buckets the judge's verdicts read);
- the generator's health (saturated intervals, worst loop lag, peak CPU).

`merge(a, b)` is exact, and `apply()` feeds an interval into a Store and TimeSeries as if its
samples had been ingested there, so the merged data goes through the same `Results`
pipeline as one process's. `to_json` / `from_json` are the wire and archive form (JSON with
non-finite floats as Python writes them). Exact means: counts, min, max and every histogram
bucket are identical to one store fed all the samples, so percentiles are too; float sums are
identical when the additions happen in the same order, else within float rounding.

For a coordinator (what `loadgen merge` does, and what `--workers` will do over pipes):

    worker:      rec = IntervalRecorder(registry); rec.start(t0_ns)
                 on every ingest: rec.ingest(records)
                 every second:    send(rec.cut(elapsed_s, health).to_json())
    coordinator: results = Results(registry, specs, cfg, store_factory=interval_store)
                 on every message: apply(Interval.from_json(msg, types), registry,
                                         results.store, results.timeseries)
                 then results.tick(elapsed_s) as a run does, and results.finish(outcome)
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

from loadgen.metrics.batch import all_same, split_kinds
from loadgen.metrics.histogram import EXACT_LIMIT, HistogramConfigError, TrendSink
from loadgen.metrics.ingest import Store
from loadgen.metrics.model import (
    HTTP,
    ITER,
    ITER_METRICS,
    Contains,
    Metric,
    MetricType,
    TagSet,
    tagset,
)
from loadgen.metrics.registry import HTTP_TIMING_METRICS, Registry
from loadgen.metrics.sinks import CounterSink, GaugeSink, RateSink, Sink, merge_sink, new_sink
from loadgen.metrics.timeseries import (
    Agg,
    CounterAgg,
    GaugeAgg,
    RateAgg,
    TimeSeries,
    TrendAgg,
    merge_agg,
)

#: The HDR unit (2**e) of every trend kind, the same in every process: time in ms gets
#: 3 significant digits from ~2 ns up to ~50 days; other values from ~1e-4 up to ~2.7e11
#: (beyond: clamped into the top bucket, min/max stay exact).
UNIT_EXP = {Contains.TIME: -30, Contains.DATA: -24, Contains.DEFAULT: -24}
SUB_BITS = 6  # the time series' histogram resolution (TimeSeries' default)
MAX_TAG_SETS = 100_000  # per interval: a runaway tag cardinality must not grow the recorder
#: Values a trend keeps verbatim across all its tag sets in one process (0.8 MB each): past
#: it, even a tag set with fewer than EXACT_LIMIT values ships histograms. Then a sub-metric
#: that a single store would still hold exactly is HDR-exact (0.05%) in a merge instead.
RAW_BUDGET = 100_000
_T, _TAGS, _VALUE, _SAMPLE_TAGS = itemgetter(1), itemgetter(2), itemgetter(3), itemgetter(4)
_HTTP_COLS = [itemgetter(i) for i in range(3, 11)]  # 7 timings, then failed
_ITER_COLS = [itemgetter(i) for i in range(3, 6)]  # duration, bytes sent, bytes received


class IntervalError(ValueError):
    """A snapshot that cannot be read or merged (the message names the problem)."""


def trend_sink(metric: Metric) -> Sink:
    """The sink a merging store uses: trends with the fleet's fixed unit."""
    if metric.type is MetricType.TREND:
        return TrendSink(unit_exp=UNIT_EXP[metric.contains])
    return new_sink(metric.type)


def interval_store(registry: Registry, timeseries: TimeSeries | None = None) -> Store:
    """A store whose trends use the fixed units: what a coordinator merges into, and what
    a run that writes an archive uses itself, so its own summary is the merge of its archive
    to the last digit (with a data-chosen unit they could differ by 0.05% past 10,000
    values)."""
    return Store(registry, timeseries=timeseries, sink_factory=trend_sink)


@dataclass
class Interval:
    """What one process recorded in [start_s, end_s) (seconds since its run started)."""

    start_s: float
    end_s: float
    #: (metric name, tag set) -> the exact aggregate of those samples
    metrics: dict[tuple[str, TagSet], Sink] = field(default_factory=dict)
    #: (time-series interval no., metric name, scenario) -> its per-interval aggregate
    series: dict[tuple[int, str, str], Agg] = field(default_factory=dict)
    #: generator health: saturated wall-clock intervals, worst loop lag (ms), peak CPU
    health: dict[str, Any] = field(default_factory=dict)

    # ---- merging ----------------------------------------------------------------------------
    def absorb(self, other: Interval) -> None:
        """Add `other` (taken as the later one: gauges keep its last value) to this one."""
        self.start_s = min(self.start_s, other.start_s)
        self.end_s = max(self.end_s, other.end_s)
        for key, sink in other.metrics.items():
            mine = self.metrics.get(key)
            if mine is None:
                self.metrics[key] = mine = _empty_like(sink)
            merge_sink(mine, sink)
        for skey, agg in other.series.items():
            have = self.series.get(skey)
            if have is None:
                self.series[skey] = have = _empty_agg_like(agg)
            merge_agg(have, agg)
        self.health = merge_health(self.health, other.health)

    # ---- wire form --------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s, "end_s": self.end_s,
            "metrics": [{"metric": name, "tags": dict(tags), **_sink_json(sink)}
                        for (name, tags), sink in self.metrics.items()],
            "series": [{"k": k, "metric": name, "scenario": scen, **_agg_json(agg)}
                       for (k, name, scen), agg in self.series.items()],
            "health": self.health,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any], types: dict[str, tuple[MetricType, Contains]],
                  ) -> Interval:
        """Raises IntervalError naming what is wrong (unknown metric, bad field, histogram
        of another configuration)."""
        try:
            iv = cls(float(d["start_s"]), float(d["end_s"]), health=_health(d.get("health")))
            for m in d["metrics"]:
                name = m["metric"]
                if name not in types:
                    raise IntervalError(f"metric {name!r} is not declared in the header")
                mtype, contains = types[name]
                iv.metrics[(name, tagset({str(k): str(v) for k, v in m["tags"].items()}))] = (
                    _sink_from(m, mtype, contains, name))
            for s in d["series"]:
                name = s["metric"]
                if name not in types:
                    raise IntervalError(f"metric {name!r} is not declared in the header")
                iv.series[(int(s["k"]), name, str(s["scenario"]))] = _agg_from(
                    s, types[name][0], name)
        except IntervalError:
            raise
        except HistogramConfigError as e:
            raise IntervalError(f"incompatible histogram configuration: {e}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise IntervalError(f"malformed interval ({type(e).__name__}: {e})") from None
        except Exception as e:  # noqa: BLE001 - hdrh's decoding errors have no common base
            raise IntervalError(f"malformed histogram ({type(e).__name__}: {e})") from None
        return iv


def merge(a: Interval, b: Interval) -> Interval:
    """A new interval holding everything of `a` then `b` (neither is changed)."""
    out = Interval(a.start_s, a.end_s)
    out.absorb(a)
    out.absorb(b)
    return out


def merge_health(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    if not a:
        return dict(b)
    if not b:
        return dict(a)
    sat = sorted({tuple(x) for x in [*a.get("saturated", ()), *b.get("saturated", ())]})
    return {"saturated": [list(x) for x in sat],
            "saturated_seconds": max(a.get("saturated_seconds", 0),
                                     b.get("saturated_seconds", 0)),
            "worst_lag_ms": max(a.get("worst_lag_ms", 0.0), b.get("worst_lag_ms", 0.0)),
            "peak_cpu": max(a.get("peak_cpu", 0.0), b.get("peak_cpu", 0.0))}


def apply(iv: Interval, registry: Registry, store: Any, timeseries: TimeSeries | None) -> None:
    """Feed an interval into a Store (and its TimeSeries) as if its samples were ingested."""
    for (name, tags), sink in iv.metrics.items():
        store.absorb(registry[name], tags, sink)
    if timeseries is not None:
        for (k, name, scen), agg in iv.series.items():
            timeseries.absorb(k, registry[name], scen, agg)


# ---- the recorder (one per process) -----------------------------------------------------------
class IntervalRecorder:
    """Ingests the run's record batches and cuts them into Intervals (see the module doc)."""

    def __init__(self, registry: Registry, origin_ns: int = 0, interval_s: float = 1.0) -> None:
        self.registry = registry
        self.origin_ns = origin_ns
        self.interval_s = interval_s
        self._reqs = registry["http_reqs"]
        self._timings = [registry[n] for n in HTTP_TIMING_METRICS]
        self._failed = registry["http_req_failed"]
        self._iter_metrics = [registry[n] for n in ITER_METRICS]
        self._sinks: dict[tuple[Metric, TagSet], Sink] = {}
        #: trend values seen per (metric, tag set) before this interval: the exact budget
        self._seen: dict[tuple[Metric, TagSet], int] = {}
        #: values each trend may still keep verbatim over all its tag sets (memory bound)
        self._raw_left: dict[Metric, int] = {}
        self._ts = self._new_ts()
        self._from_s = 0.0

    def _new_ts(self) -> TimeSeries:
        return TimeSeries(self.origin_ns, interval_s=self.interval_s, max_buckets=1 << 20,
                          sub_bits=SUB_BITS)

    def start(self, origin_ns: int) -> None:
        self.origin_ns = origin_ns
        self._ts.origin_ns = origin_ns

    # ---- feeding ----------------------------------------------------------------------------
    def ingest(self, records: Sequence[tuple[object, ...]]) -> None:
        if not records:
            return
        for kind, recs, _ in split_kinds(records):
            if kind == HTTP:
                self._ingest_http(recs)
            elif kind == ITER:
                self._ingest_iter(recs)
            else:
                self._ingest_samples(recs)

    def _ingest_http(self, recs: Sequence[tuple[object, ...]]) -> None:
        n = len(recs)
        t = np.fromiter(map(_T, recs), np.int64, n)
        cols = [np.fromiter(map(g, recs), np.float64, n) for g in _HTTP_COLS]  # None -> nan
        ids = np.fromiter(map(id, map(_TAGS, recs)), np.int64, n)
        for sel in _groups(ids):
            tags: TagSet = recs[int(sel[0])][2]  # type: ignore[assignment]
            whole = len(sel) == n
            rows_t = t if whole else t[sel]
            self._add(self._reqs, tags, np.ones(len(sel)), rows_t)
            for m, col in zip(self._timings, cols, strict=False):
                self._add(m, tags, col if whole else col[sel], rows_t)
            failed = cols[7] if whole else cols[7][sel]
            has = ~np.isnan(failed)
            if has.all():
                self._add(self._failed, tags, failed, rows_t)
            elif has.any():
                self._add(self._failed, tags, failed[has], rows_t[has])

    def _ingest_iter(self, recs: Sequence[tuple[object, ...]]) -> None:
        """An iteration's end: its four metrics, per tag set, as one store expands them."""
        n = len(recs)
        t = np.fromiter(map(_T, recs), np.int64, n)
        cols = [np.fromiter(map(g, recs), np.float64, n) for g in _ITER_COLS]
        cols.insert(1, np.ones(n))  # iterations
        ids = np.fromiter(map(id, map(_TAGS, recs)), np.int64, n)
        for sel in _groups(ids):
            tags: TagSet = recs[int(sel[0])][2]  # type: ignore[assignment]
            whole = len(sel) == n
            rows_t = t if whole else t[sel]
            for m, col in zip(self._iter_metrics, cols, strict=True):
                self._add(m, tags, col if whole else col[sel], rows_t)

    def _ingest_samples(self, recs: Sequence[tuple[object, ...]]) -> None:
        n = len(recs)
        t = np.fromiter(map(_T, recs), np.int64, n)
        values = np.fromiter(map(_VALUE, recs), np.float64, n)
        if all_same(recs, 2) and all_same(recs, 4):  # one check on one tag set, say
            self._add(recs[0][2], recs[0][4], values, t)  # type: ignore[arg-type]
            return
        mid = np.fromiter(map(id, map(_TAGS, recs)), np.int64, n)  # field 2: the metric
        tid = np.fromiter(map(id, map(_SAMPLE_TAGS, recs)), np.int64, n)
        order = np.lexsort((tid, mid))  # stable: record order within a (metric, tags) group
        m_s, t_s = mid[order], tid[order]
        cuts = np.flatnonzero((m_s[1:] != m_s[:-1]) | (t_s[1:] != t_s[:-1])) + 1
        # first-seen order (each group's rows ascend: the sort is stable), so checks and
        # groups reach a merged summary in the order a run lists them
        for sel in sorted(np.split(order, cuts), key=lambda rows: int(rows[0])):
            first = recs[int(sel[0])]
            self._add(first[2], first[4], values[sel], t[sel])  # type: ignore[arg-type]

    def _add(self, m: Metric, tags: TagSet, values: np.ndarray, t: np.ndarray) -> None:
        key = (m, tags)
        sink = self._sinks.get(key)
        if sink is None and len(self._sinks) >= MAX_TAG_SETS:
            tags = (("tags", "overflow"),)  # bounded: later tag sets share one entry
            key = (m, tags)
            sink = self._sinks.get(key)
        if sink is None:
            if m.type is MetricType.TREND:
                budget = max(0, EXACT_LIMIT - self._seen.get(key, 0))
                sink = TrendSink(budget, UNIT_EXP[m.contains])
            else:
                sink = new_sink(m.type)
            self._sinks[key] = sink
        if isinstance(sink, TrendSink) and sink.exact:
            left = self._raw_left.get(m, RAW_BUDGET)
            if len(values) > left:  # this metric kept enough values: histograms from here
                sink.exact_limit = min(sink.exact_limit, sink.count)
            else:
                self._raw_left[m] = left - len(values)
        sink.add_many(values)
        if self._ts.wants(m):
            scen = dict(tags).get("scenario", "")
            self._ts.add(m, t, values, self._ts.scenario_no(scen))

    def absorb(self, iv: Interval) -> None:
        """Another process's interval, to go out in this recorder's next cut: a `--workers`
        coordinator's archive holds its own records and every worker's, merged, so that
        `loadgen merge` of it reads the run's own numbers (bounded as `_add`)."""
        for (name, tags), sink in iv.metrics.items():
            m = self.registry[name]
            key = (m, tags)
            if key not in self._sinks and len(self._sinks) >= MAX_TAG_SETS:
                key = (m, (("tags", "overflow"),))
            mine = self._sinks.get(key)
            if mine is None:
                mine = self._sinks[key] = _empty_like(sink)
            merge_sink(mine, sink)
        for (k, name, scen), agg in iv.series.items():
            self._ts.absorb(k, self.registry[name], scen, agg)

    # ---- cutting ----------------------------------------------------------------------------
    def cut(self, now_s: float, health: dict[str, Any] | None = None) -> Interval:
        """Everything ingested since the last cut, as an Interval ending at `now_s`."""
        iv = Interval(self._from_s, now_s, health=dict(health or {}))
        for (m, tags), sink in self._sinks.items():
            iv.metrics[(m.name, tags)] = sink
            if isinstance(sink, TrendSink) and len(self._seen) < MAX_TAG_SETS:
                self._seen[(m, tags)] = self._seen.get((m, tags), 0) + sink.count
        scen_names = ["", *self._ts.scenarios()]
        for b in self._ts._buckets:  # level 0 only: a delta never compacts
            for (name, scen), agg in b.data.items():
                iv.series[(b.index, name, scen_names[scen])] = agg
        self._sinks = {}
        self._ts = self._new_ts()
        self._from_s = now_s
        return iv


def _groups(ids: np.ndarray) -> list[np.ndarray]:
    """Row indices per distinct id, each in record order."""
    if ids.min() == ids.max():
        return [np.arange(len(ids))]
    order = np.argsort(ids, kind="stable")
    s = ids[order]
    return np.split(order, np.flatnonzero(s[1:] != s[:-1]) + 1)


# ---- (de)serialising aggregates -----------------------------------------------------------
def _sink_json(sink: Sink) -> dict[str, Any]:
    if isinstance(sink, CounterSink):
        return {"count": sink.count, "n": sink.n}
    if isinstance(sink, RateSink):
        return {"passes": sink.passes, "total": sink.total}
    if isinstance(sink, GaugeSink):
        return {"value": sink.value, "min": sink.min, "max": sink.max, "n": sink.n}
    assert isinstance(sink, TrendSink)
    return sink.to_parts()


def _sink_from(d: dict[str, Any], mtype: MetricType, contains: Contains, name: str) -> Sink:
    if mtype is MetricType.COUNTER:
        c = CounterSink()
        c.count, c.n = float(d["count"]), int(d["n"])
        return c
    if mtype is MetricType.RATE:
        r = RateSink()
        r.passes, r.total = int(d["passes"]), int(d["total"])
        if not 0 <= r.passes <= r.total:
            raise ValueError(f"{name}: passes {r.passes} of {r.total}")
        return r
    if mtype is MetricType.GAUGE:
        g = GaugeSink()
        g.value, g.min, g.max, g.n = float(d["value"]), float(d["min"]), float(d["max"]), int(
            d["n"])
        return g
    t = TrendSink.from_parts(d, UNIT_EXP[contains])
    if t.count < 0 or t.unserved < 0:
        raise ValueError(f"{name}: negative count")
    return t


def _agg_json(agg: Agg) -> dict[str, Any]:
    if isinstance(agg, TrendAgg):
        return {"sub_bits": agg.sub_bits, "count": agg.count, "sum": agg.sum, "min": agg.min,
                "max": agg.max, "idx": _pack(agg.idx, "<u2"), "cnt": _pack(agg.cnt, "<i8")}
    if isinstance(agg, CounterAgg):
        return {"total": agg.total, "n": agg.n}
    if isinstance(agg, RateAgg):
        return {"passes": agg.passes, "total": agg.total}
    return {"last": agg.last, "min": agg.min, "max": agg.max, "n": agg.n}


def _agg_from(d: dict[str, Any], mtype: MetricType, name: str) -> Agg:
    if mtype is MetricType.TREND:
        if d["sub_bits"] != SUB_BITS:
            raise HistogramConfigError(f"{name}: time-series sub_bits {d['sub_bits']}, "
                                       f"expected {SUB_BITS}")
        t = TrendAgg(SUB_BITS)
        t.count, t.sum, t.min, t.max = int(d["count"]), float(d["sum"]), float(d["min"]), float(
            d["max"])
        idx = _unpack(d["idx"], "<u2").astype(np.int64)
        cnt = _unpack(d["cnt"], "<i8")
        if len(idx) != len(cnt) or (len(idx) and (idx.min() < 0 or idx.max() >= 2**16)):
            raise ValueError(f"{name}: time-series histogram out of range")
        t.idx, t.cnt = idx.astype(np.uint16), cnt.astype(np.int64)
        return t
    if mtype is MetricType.COUNTER:
        c = CounterAgg()
        c.total, c.n = float(d["total"]), int(d["n"])
        return c
    if mtype is MetricType.RATE:
        r = RateAgg()
        r.passes, r.total = int(d["passes"]), int(d["total"])
        return r
    g = GaugeAgg()
    g.last, g.min, g.max, g.n = float(d["last"]), float(d["min"]), float(d["max"]), int(d["n"])
    return g


def _health(h: Any) -> dict[str, Any]:
    """Generator health as written by a run, checked field by field."""
    if not h:
        return {}
    return {"saturated": [[float(a), float(b)] for a, b in h.get("saturated", ())],
            "saturated_seconds": int(h.get("saturated_seconds", 0)),
            "worst_lag_ms": float(h.get("worst_lag_ms", 0.0)),
            "peak_cpu": float(h.get("peak_cpu", 0.0))}


def _pack(a: np.ndarray, dtype: str) -> str:
    """A small integer array as base64 of its zlib-compressed little-endian bytes (a list
    of JSON numbers was 3/4 of an interval line)."""
    return base64.b64encode(zlib.compress(a.astype(dtype).tobytes(), 6)).decode("ascii")


def _unpack(text: str, dtype: str) -> np.ndarray:
    raw = zlib.decompressobj().decompress(base64.b64decode(text, validate=True), 2**24)
    return np.frombuffer(raw, dtype=dtype)


def _empty_like(sink: Sink) -> Sink:
    if isinstance(sink, TrendSink):
        return TrendSink(EXACT_LIMIT, sink.fixed_unit_exp)
    return new_sink(sink.type)


def _empty_agg_like(agg: Agg) -> Agg:
    if isinstance(agg, TrendAgg):
        return TrendAgg(agg.sub_bits)
    return type(agg)()

