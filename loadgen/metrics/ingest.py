"""Records -> sinks (and the time series), in bulk, every ~50 ms.

The hot path appends tuples (model.py); here the number fields of a batch become numpy
columns in one pass (batch.py), and every sink receives one add_many
per batch: the main metric gets the whole column, a sub-metric the rows whose tag set
matches. Tag sets are few and records many, so rows are grouped by tag-set identity
(interned tuples; one np.unique over ids) and sub-metric matching is decided once per
distinct tag set and cached.

An ITER record (an iteration's end) is expanded the same way: its tag sets are grouped once
and each of its four metrics gets one column.

Order: within a metric, values keep record order (gauges keep the last value, exact trend
sums add in k6's order). A batch mixing kinds for the same metric adds the HTTP ones first,
then ITER, then SAMPLE (data_sent of an interrupted iteration, of setup()); only the last bits
of a float sum could notice, and byte counts are integers, whose sums are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Protocol

import numpy as np

from loadgen.metrics.batch import all_same, columns, split_kinds
from loadgen.metrics.model import HTTP, ITER, ITER_METRICS, Metric, SubMetric, TagSet
from loadgen.metrics.registry import HTTP_TIMING_METRICS, Registry
from loadgen.metrics.sinks import CounterSink, RateSink, Sink, merge_sink, new_sink
from loadgen.metrics.timeseries import Group, TimeSeries

# the number columns of each kind's records (batch.py): 'q' int64, 'd' float64, '.' not one
_HTTP_SPEC = ".q." + "d" * 8  # t, duration, the six timings, failed
_ITER_SPEC = ".q.ddd"  # t, duration, data sent, data received
_SAMPLE_SPEC = ".q.d"  # t, value


Point = tuple[Metric, int, float, TagSet]  # (metric, t_ns, value, tags), one raw sample
PointHook = Callable[[list[Point]], None]
# (first row of the batch, metric, tags, non-zero values, values): one per tag set and batch
Tally = tuple[int, Metric, TagSet, int, int]
TallyHook = Callable[[list[Tally]], None]


class Observer(Protocol):
    """Sees every batch of chosen metrics grouped by tag set, and every aggregate absorbed
    from another process, without holding the samples: the one way to watch ingest (live
    outputs: prometheus, progress; the per-request-name views).

    The metrics of one HTTP batch share their rows: `tags` (and `codes`, where every row
    is kept) are the same objects in each call, so an observer may key a per-batch cache
    on their identity (http_req_failed gets a subset when some rows have no verdict)."""

    def batch(self, metric: Metric, values: np.ndarray, tags: list[TagSet],
              codes: np.ndarray | None) -> None:
        """`values` of `metric`; row i carries `tags[codes[i]]` (`codes` None: `tags[0]`)."""

    def absorb(self, metric: Metric, tags: TagSet, sink: Sink) -> None:
        """An aggregate of samples that all carried `tags` (another process's interval)."""


Target = Metric | SubMetric
EXPECTED_RESPONSE = (("expected_response", "true"),)
_TAG_CACHE_MAX = 100_000


class _TagInfo:
    """What ingest needs to know about one tag set; sub-metric matches filled lazily."""

    __slots__ = ("tags", "match", "scenario", "has_expected_response")

    def __init__(self, tags: TagSet) -> None:
        d = dict(tags)
        self.tags = tags
        self.match: dict[SubMetric, bool] = {}
        self.scenario = d.get("scenario", "")
        self.has_expected_response = "expected_response" in d

    def matches(self, sub: SubMetric) -> bool:
        got = self.match.get(sub)
        if got is None:
            got = self.match[sub] = sub.matches(self.tags)
        return got


class _Rows:
    """Rows of a batch (or a subset of them): tag-set code per row, their times (set from
    the kind's columns; a subset takes its parent's)."""

    __slots__ = ("codes", "infos", "_t", "_parent", "_sel", "_masks", "_groups", "_tags")

    def __init__(
        self,
        codes: np.ndarray | None,  # None: every row has infos[0]
        infos: list[_TagInfo],
        parent: _Rows | None = None,
        sel: np.ndarray | None = None,
    ) -> None:
        self.codes, self.infos = codes, infos
        self._parent, self._sel = parent, sel
        self._t: np.ndarray | None = None
        self._masks: dict[tuple[bool, ...], np.ndarray] = {}
        self._groups: list[Group] | None = None
        self._tags: list[TagSet] | None = None

    def tags(self) -> list[TagSet]:
        """The tag sets by code, one list per batch (shared by a subset of the rows)."""
        if self._tags is None:
            self._tags = (self._parent.tags() if self._parent is not None
                          else [i.tags for i in self.infos])
        return self._tags

    def t(self) -> np.ndarray:
        """Record times (int64 ns): given by the ingest of a kind (its columns), or taken
        from the parent's rows for a subset."""
        t = self._t
        if t is None:
            assert self._parent is not None
            t = self._t = self._parent.t()[self._sel]
        return t

    def set_times(self, t: np.ndarray) -> None:
        self._t = t

    def mask(self, sel: tuple[bool, ...]) -> np.ndarray:
        got = self._masks.get(sel)
        if got is None:
            assert self.codes is not None
            got = self._masks[sel] = np.array(sel)[self.codes]
        return got

    def ts_groups(self, ts: TimeSeries) -> list[Group]:
        """The rows split by time-series interval and scenario, computed once."""
        if self._groups is None:
            scen = [ts.scenario_no(i.scenario) for i in self.infos]
            self._groups = ts.groups(
                self.t(), scen[0] if self.codes is None else np.array(scen)[self.codes])
        return self._groups

    def subset(self, sel: np.ndarray) -> _Rows:
        codes = None if self.codes is None else self.codes[sel]
        return _Rows(codes, self.infos, parent=self, sel=sel)


def _merge_tallies(tallies: list[Tally]) -> list[Tally]:
    """One tally per metric and tag set, as one pass over the batch would give (ITER and
    SAMPLE records both carry data_sent): counts added, first row the earliest."""
    out: dict[tuple[Metric, TagSet], Tally] = {}
    for t in tallies:
        key = (t[1], t[2])
        had = out.get(key)
        out[key] = t if had is None else (min(had[0], t[0]), t[1], t[2], had[3] + t[3],
                                           had[4] + t[4])
    return list(out.values())


class Store:
    """One sink per metric and per sub-metric, fed in bulk from hot-path records."""

    def __init__(
        self,
        registry: Registry,
        *,
        timeseries: TimeSeries | None = None,
        expected_response_submetric: bool = True,
        sink_factory: Callable[[Metric], Sink] | None = None,
    ) -> None:
        self.registry = registry
        self.timeseries = timeseries
        self.records_ingested = 0
        self._sinks: dict[Target, Sink] = {}
        self._names: dict[str, Target] = {}
        self._indexed: dict[Metric, tuple[int, dict[tuple[tuple[str, str], ...], SubMetric]]] = {}
        self._tag_info: dict[TagSet, _TagInfo] = {}
        self._hooks: list[PointHook] = []
        self._tally_hooks: list[tuple[frozenset[Metric], TallyHook]] = []
        self._observers: list[tuple[frozenset[Metric], Observer]] = []
        self._auto_er = expected_response_submetric
        self._factory = sink_factory or (lambda m: new_sink(m.type))
        self._reqs = registry["http_reqs"]
        self._timings = [registry[n] for n in HTTP_TIMING_METRICS]
        self._failed = registry["http_req_failed"]
        self._duration = self._timings[0]
        self._iter_metrics = [registry[n] for n in ITER_METRICS]

    # ---- sub-metrics and sinks ------------------------------------------------------------
    def add_submetric(self, metric: Metric | str, suffix: str, tags: TagSet) -> SubMetric:
        """`metric{suffix}` selecting `tags`; the same tag set always gives the same object.

        Another spelling of an existing tag set returns the existing sub-metric and makes
        `get()` answer to the new name too. Samples ingested before creation are not added.
        """
        m = self.registry[metric] if isinstance(metric, str) else metric
        want = tuple(sorted(tags))
        suffix = suffix.strip()
        index = self._sub_index(m)
        sub = index.get(want)
        if sub is not None:
            self._names.setdefault(f"{m.name}{{{suffix}}}", sub)
            return sub
        sub = SubMetric(m, suffix, want)
        m.submetrics.append(sub)
        index[want] = sub
        self._indexed[m] = (len(m.submetrics), index)
        self._names[sub.name] = sub
        return sub

    def _sub_index(self, m: Metric) -> dict[tuple[tuple[str, str], ...], SubMetric]:
        """The sub-metrics of `m` by sorted tag set: a look-up per threshold instead of a scan
        (10,000 sub-metric thresholds took 39 s to set up with the scan). Sub-metrics appended
        to `m` by anyone else are indexed on the next call, so the index never goes stale."""
        seen, index = self._indexed.get(m, (0, {}))
        for sub in m.submetrics[seen:]:
            index.setdefault(tuple(sorted(sub.tags)), sub)
        self._indexed[m] = (len(m.submetrics), index)
        return index

    def sink(self, target: Target) -> Sink:
        """The sink of a metric or sub-metric, created (empty) if needed."""
        s = self._sinks.get(target)
        if s is None:
            parent = target.parent if isinstance(target, SubMetric) else target
            s = self._sinks[target] = self._factory(parent)
            self._names.setdefault(target.name, target)
        return s

    def existing(self, target: Target) -> Sink | None:
        """The sink of a metric or sub-metric if one was ever created (None: no samples)."""
        return self._sinks.get(target)

    def target(self, name: str) -> Target | None:
        """A metric or sub-metric by its k6 name (`http_req_duration{status:200}`)."""
        t = self._names.get(name)
        if t is None:
            parent = name.partition("{")[0]
            m = self.registry.get(parent)
            if m is None:
                return None
            t = m if parent == name else next((s for s in m.submetrics if s.name == name), None)
            if t is not None:
                self._names[name] = t
        return t

    def get(self, name: str) -> Sink | None:
        """The sink by k6 name, or None if nothing was ever recorded there (thresholds)."""
        t = self.target(name)
        return None if t is None else self._sinks.get(t)

    def observed(self, target: Target) -> bool:
        """Received at least one sample (k6 §0.5; thresholds add to this elsewhere)."""
        s = self._sinks.get(target)
        return s is not None and not s.empty

    def targets(self) -> Iterator[tuple[str, Target, Sink | None]]:
        """Every registered metric, then its sub-metrics: (k6 name, target, sink or None)."""
        for m in self.registry.metrics.values():
            yield m.name, m, self._sinks.get(m)
            for sub in m.submetrics:
                yield sub.name, sub, self._sinks.get(sub)

    # ---- raw points -----------------------------------------------------------------------
    def add_point_hook(self, hook: PointHook) -> None:
        """Call `hook(points)` once per batch with every raw sample in record order."""
        self._hooks.append(hook)

    def add_tally_hook(self, metrics: Sequence[Metric], hook: TallyHook) -> None:
        """Call `hook(tallies)` once per batch with, for each tag set of these (SAMPLE)
        metrics, how many values it got and how many were non-zero, in first-seen order.

        Checks and groups are counted this way: per tag set and batch, not per record.
        """
        self._tally_hooks.append((frozenset(metrics), hook))

    def make_sink(self, metric: Metric) -> Sink:
        """A new empty sink for `metric`'s values, as this store makes them (its units)."""
        return self._factory(metric)

    def add_observer(self, metrics: Sequence[Metric], observer: Observer) -> None:
        """Show `observer` every batch (and absorbed aggregate) of these metrics: one call
        per metric and batch, so its cost is per batch and per tag set, not per record."""
        self._observers.append((frozenset(metrics), observer))

    def remove_point_hook(self, hook: PointHook) -> None:
        self._hooks.remove(hook)

    def points(self, records: Sequence[tuple[object, ...]]) -> list[Point]:
        """Expand records into raw samples in k6's NDJSON order (§6)."""
        reqs, timings, failed = self._reqs, self._timings, self._failed
        dur, iters, sent, recv = self._iter_metrics
        out: list[Point] = []
        add = out.append
        for r in records:
            kind = r[0]
            if kind == HTTP:
                t, tags = r[1], r[2]
                add((reqs, t, 1.0, tags))  # type: ignore[arg-type]
                for m, v in zip(timings, r[3:10], strict=True):
                    add((m, t, v, tags))  # type: ignore[arg-type]
                if r[10] is not None:
                    add((failed, t, float(r[10]), tags))  # type: ignore[arg-type]
            elif kind == ITER:
                t, tags = r[1], r[2]
                add((dur, t, float(r[3]), tags))  # type: ignore[arg-type]
                add((iters, t, 1.0, tags))  # type: ignore[arg-type]
                add((sent, t, float(r[4]), tags))  # type: ignore[arg-type]
                add((recv, t, float(r[5]), tags))  # type: ignore[arg-type]
            else:
                add((r[2], r[1], float(r[3]), r[4]))  # type: ignore[arg-type]
        return out

    # ---- aggregates from elsewhere (another process's interval) ----------------------------
    def absorb(self, metric: Metric, tags: TagSet, sink: Sink) -> None:
        """Add an aggregate of `metric`'s samples that all carried `tags` (one interval of
        another process) as if those samples had been ingested here: into the metric, every
        matching sub-metric and the tally hooks. The time series is fed apart (it has its
        own per-interval aggregates)."""
        info = self._info(tags)
        if self._auto_er and info.has_expected_response and metric is self._duration:
            self._auto_er = False
            self.add_submetric(self._duration, "expected_response:true", EXPECTED_RESPONSE)
        merge_sink(self.sink(metric), sink)
        for metrics, observer in self._observers:
            if metric in metrics:
                observer.absorb(metric, tags, sink)
        for sub in metric.submetrics:
            if info.matches(sub):
                merge_sink(self.sink(sub), sink)
        hooks = [hook for metrics, hook in self._tally_hooks if metric in metrics]
        if hooks:
            if isinstance(sink, RateSink):
                nonzero, total = sink.passes, sink.total
            elif isinstance(sink, CounterSink):
                nonzero, total = sink.n, sink.n
            else:
                nonzero = total = int(getattr(sink, "count", getattr(sink, "n", 0)))
            for hook in hooks:
                hook([(0, metric, tags, nonzero, total)])

    # ---- ingest -------------------------------------------------------------------------
    def ingest(self, records: Sequence[tuple[object, ...]]) -> None:
        """Expand a batch of hot-path records into every sink (and the time series)."""
        n = len(records)
        if n == 0:
            return
        self.records_ingested += n
        if self._hooks:
            pts = self.points(records)
            for hook in self._hooks:
                hook(pts)
        tallies: list[Tally] = []
        parts = split_kinds(records)
        for kind, recs, where in parts:
            if kind == HTTP:
                self._ingest_http(recs)
            elif kind == ITER:
                self._ingest_iter(recs, where, tallies)
            else:
                self._ingest_samples(recs, where, tallies)
        if len(parts) > 1 and tallies:
            tallies = _merge_tallies(tallies)
        if tallies:
            tallies.sort(key=itemgetter(0))
            for metrics, tally_hook in self._tally_hooks:
                tally_hook([t for t in tallies if t[1] in metrics])

    def _ingest_http(self, recs: Sequence[tuple[object, ...]]) -> None:
        n = len(recs)
        rows = self._rows(recs, 2)
        if self._auto_er and any(i.has_expected_response for i in rows.infos):
            self._auto_er = False  # k6 creates it with the first request carrying the tag
            self.add_submetric(self._duration, "expected_response:true", EXPECTED_RESPONSE)
        # (kind, t, tags, duration, blocked ... receiving, failed): failed None -> nan
        t, *timings, failed = columns(recs, _HTTP_SPEC)
        rows.set_times(t)
        self._feed(self._reqs, np.ones(n), rows)
        for m, values in zip(self._timings, timings, strict=True):
            self._feed(m, values, rows)
        has = ~np.isnan(failed)
        if has.all():
            self._feed(self._failed, failed, rows)
        elif has.any():
            self._feed(self._failed, failed[has], rows.subset(has))

    def _ingest_iter(self, recs: Sequence[tuple[object, ...]], where: np.ndarray | None,
                     tallies: list[Tally]) -> None:
        """ITER records: one tag-set grouping and three columns for the four metrics, fed in
        the order the records list them (iteration_duration, iterations, data_sent,
        data_received)."""
        n = len(recs)
        rows = self._rows(recs, 2)
        pos = np.arange(n) if where is None else where
        dur, iters, sent, recv = self._iter_metrics
        t, durations, sent_bytes, received_bytes = columns(recs, _ITER_SPEC)
        rows.set_times(t)
        for m, values in ((dur, durations), (iters, np.ones(n)), (sent, sent_bytes),
                          (recv, received_bytes)):
            self._feed(m, values, rows)
            self._tally(m, values, rows, pos, tallies)

    def _ingest_samples(self, recs: Sequence[tuple[object, ...]], where: np.ndarray | None,
                        tallies: list[Tally]) -> None:
        n = len(recs)
        rows = self._rows(recs, 4)
        t, values = columns(recs, _SAMPLE_SPEC)
        rows.set_times(t)
        pos = np.arange(n) if where is None else where
        if all_same(recs, 2):  # one metric (checks, mostly): no per-metric split
            metric: Metric = recs[0][2]  # type: ignore[assignment]
            self._feed(metric, values, rows)
            self._tally(metric, values, rows, pos, tallies)
        else:
            (ids,) = columns(recs, "..o")  # the metric objects' ids
            order = np.argsort(ids, kind="stable")  # stable: record order within a metric
            sorted_ids = ids[order]
            cuts = (np.flatnonzero(sorted_ids[1:] != sorted_ids[:-1]) + 1).tolist()
            for start, end in zip([0, *cuts], [*cuts, n], strict=True):
                sel = order[start:end]
                metric = recs[int(sel[0])][2]  # type: ignore[assignment]
                sub = rows.subset(sel)
                self._feed(metric, values[sel], sub)
                self._tally(metric, values[sel], sub, pos[sel], tallies)

    def _tally(self, m: Metric, values: np.ndarray, rows: _Rows, pos: np.ndarray,
               out: list[Tally]) -> None:
        """Count values and non-zero values per tag set (for the tally hooks)."""
        if not any(m in metrics for metrics, _ in self._tally_hooks):
            return
        nz = values != 0
        if rows.codes is None:
            out.append((int(pos[0]), m, rows.infos[0].tags, int(nz.sum()), len(values)))
            return
        k = len(rows.infos)
        total = np.bincount(rows.codes, minlength=k)
        nonzero = np.bincount(rows.codes, weights=nz, minlength=k)
        first = np.full(k, np.iinfo(np.int64).max, np.int64)
        np.minimum.at(first, rows.codes, pos)
        for c in np.flatnonzero(total).tolist():
            out.append((int(first[c]), m, rows.infos[c].tags, int(nonzero[c]), int(total[c])))

    def _rows(self, recs: Sequence[tuple[object, ...]], tags_at: int) -> _Rows:
        """Group rows by tag set (by object identity; equal tuples just share an info)."""
        if all_same(recs, tags_at):
            return _Rows(None, [self._info(recs[0][tags_at])])  # type: ignore[arg-type]
        (ids,) = columns(recs, "." * tags_at + "o")  # the tag sets' ids
        _, first, inv = np.unique(ids, return_index=True, return_inverse=True)
        infos = [self._info(recs[i][tags_at]) for i in first.tolist()]
        return _Rows(inv, infos)

    def _info(self, tags: TagSet) -> _TagInfo:
        info = self._tag_info.get(tags)
        if info is None:
            if len(self._tag_info) >= _TAG_CACHE_MAX:  # runaway tag cardinality: stay bounded
                self._tag_info.clear()
            info = self._tag_info[tags] = _TagInfo(tags)
        return info

    def _feed(self, m: Metric, values: np.ndarray, rows: _Rows) -> None:
        """One add_many for the metric and for each sub-metric with matching rows."""
        self.sink(m).add_many(values)
        for metrics, observer in self._observers:
            if m in metrics:
                observer.batch(m, values, rows.tags(), rows.codes)
        for sub in m.submetrics:
            sel = tuple(info.matches(sub) for info in rows.infos)
            if all(sel):
                self.sink(sub).add_many(values)
            elif any(sel):
                self.sink(sub).add_many(values[rows.mask(sel)])
        ts = self.timeseries
        if ts is not None and ts.wants(m):
            ts.add_grouped(m, values, rows.ts_groups(ts))
