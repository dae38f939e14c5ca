"""Per-endpoint views: for every request `name`, its count, rate, error rate and latency
percentiles (`loadgen.endpoints`, the `--summary-by-name` table, the HTML report).

Names are not known before the run, and one sub-metric per name would make every ingest
batch scan every name's sub-metric (ingest cost grew with the number of names: 13x at 100
names). Instead the views watch the store (a `Store.add_observer` observer of http_reqs,
http_req_duration and http_req_failed): each batch's rows are mapped to names once (the
three metrics of a batch share their rows), counted with a bincount and the latencies
grouped by name with one stable sort, so each name present gets one add per sink. A
worker's absorbed intervals (a fleet, `loadgen merge`) are merged into the same sinks.
Sinks come from the store (its units, so merged intervals stay exact).

Bounded: past MAX_NAMES distinct names (a URL used as the name, with ids in it) no more are
tracked and the summary says how many were left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loadgen.metrics.ingest import Store
from loadgen.metrics.model import Metric, TagSet
from loadgen.metrics.sinks import CounterSink, RateSink, Sink, merge_sink

MAX_NAMES = 500
MAX_LEFT_OUT = 10_000  # names beyond the table are only counted, up to this many
_PERCENTILES = (("p50", "p(50)"), ("p90", "p(90)"), ("p95", "p(95)"), ("p99", "p(99)"),
                ("max", "max"))
_NONE = -1  # a tag set without a name, or one left out


FLUSH_VALUES = 512  # a name's latencies are added in runs of this many (bounded buffer)


@dataclass
class _Name:
    duration: Sink
    slot: int = 0  # counts are in EndpointViews' arrays, at slot + 1
    #: latencies not yet added: with many names each batch holds a few of each, and one
    #: add per name and batch cost more than the ingest itself (5 µs per record at 500)
    pending: list[np.ndarray] = field(default_factory=list)
    pending_n: int = 0

    def add(self, values: np.ndarray) -> None:
        self.pending.append(values)
        self.pending_n += len(values)
        if self.pending_n >= FLUSH_VALUES:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.duration.add_many(np.concatenate(self.pending))
            self.pending.clear()
            self.pending_n = 0


class EndpointViews:
    def __init__(self, store: Store, max_names: int = MAX_NAMES) -> None:
        self.store = store
        self.max_names = max_names
        self.names: dict[str, _Name] = {}
        self._by_slot: list[_Name] = []
        self._slot_of: dict[TagSet, int] = {}  # tag set -> slot (or _NONE); bounded below
        self.left_out: set[str] = set()
        reg = store.registry
        self._reqs, self._duration, self._failed = (
            reg["http_reqs"], reg["http_req_duration"], reg["http_req_failed"])
        self._last_tags: list[TagSet] | None = None
        self._last_codes: np.ndarray | None = None
        self._last_rows = np.zeros(0, np.int64)
        #: per slot + 1 (0: rows without a tracked name): requests, requests with an
        #: http_req_failed sample, requests counted as failed; one bincount per batch each
        self.counts = np.zeros((3, max_names + 1), np.int64)
        store.add_observer([self._reqs, self._duration, self._failed], self)

    def _slot(self, tags: TagSet) -> int:
        got = self._slot_of.get(tags)
        if got is not None:
            return got
        name = next((v for k, v in tags if k == "name"), None)
        slot = _NONE
        if name is not None:
            entry = self.names.get(name)
            if entry is None and len(self.names) < self.max_names:
                entry = self.names[name] = _Name(self.store.make_sink(self._duration),
                                                 slot=len(self._by_slot))
                self._by_slot.append(entry)
            if entry is not None:
                slot = entry.slot
            elif len(self.left_out) < MAX_LEFT_OUT:  # only a count is shown: stay bounded
                self.left_out.add(name)
        if len(self._slot_of) >= 100_000:  # runaway tag cardinality
            self._slot_of.clear()
        self._slot_of[tags] = slot
        return slot

    def _row_slots(self, tag_sets: list[TagSet], codes: np.ndarray | None) -> np.ndarray:
        """Each row's name slot + 1 (0: no name; one entry when every row has the same),
        computed once per batch: the metrics of one HTTP batch come with the same
        `tag_sets` and `codes` objects."""
        if tag_sets is self._last_tags and codes is self._last_codes:
            return self._last_rows
        slots = np.fromiter((self._slot(t) for t in tag_sets), np.int64, len(tag_sets)) + 1
        uniform = codes is None or len(slots) == 1 or bool((slots == slots[0]).all())
        rows = slots[:1] if uniform else slots[codes]
        self._last_tags, self._last_codes, self._last_rows = tag_sets, codes, rows
        return rows

    # -- the store's Observer --------------------------------------------------------------
    def batch(self, metric: Metric, values: np.ndarray, tags: list[TagSet],
              codes: np.ndarray | None) -> None:
        """One ingest batch of one of the three metrics, grouped by name: counts by one
        bincount into the arrays, latencies by one add per name present."""
        if not len(values):
            return
        rows = self._row_slots(tags, codes)
        if len(rows) == 1:
            if int(rows[0]) != 0:
                self._add(self._by_slot[int(rows[0]) - 1], metric, values)
            return
        if metric is self._duration:
            order = np.argsort(rows, kind="stable")  # stable: record order within a name
            ordered = rows[order]
            cuts = (np.flatnonzero(ordered[1:] != ordered[:-1]) + 1).tolist()
            firsts = ordered[[0, *cuts]].tolist()
            for s, start, end in zip(firsts, [0, *cuts], [*cuts, len(order)], strict=True):
                if s != 0:
                    self._by_slot[s - 1].add(values[order[start:end]])
            return
        width = self.counts.shape[1]
        if metric is self._reqs:
            self.counts[0] += np.bincount(rows, minlength=width)
        else:
            self.counts[1] += np.bincount(rows, minlength=width)
            self.counts[2] += np.bincount(rows, weights=values != 0, minlength=width
                                          ).astype(np.int64)

    def _add(self, e: _Name, metric: Metric, values: np.ndarray) -> None:
        """A batch's values of one metric that all carry one name."""
        if metric is self._reqs:
            self.counts[0, e.slot + 1] += len(values)
        elif metric is self._duration:
            e.add(values)
        else:
            self.counts[1, e.slot + 1] += len(values)
            self.counts[2, e.slot + 1] += int(np.count_nonzero(values))

    def absorb(self, metric: Metric, tags: TagSet, sink: Sink) -> None:
        """Another process's aggregate of one tag set (a fleet worker's interval)."""
        if metric is not self._reqs and metric is not self._duration and (
                metric is not self._failed):
            return
        slot = self._slot(tags)
        if slot == _NONE:
            return
        if metric is self._duration:
            entry = self._by_slot[slot]
            entry.flush()  # order: what this process had before, then the interval
            merge_sink(entry.duration, sink)
        elif metric is self._reqs and isinstance(sink, CounterSink):
            self.counts[0, slot + 1] += int(sink.aggregate("count", 0) or 0)
        elif isinstance(sink, RateSink):
            self.counts[1, slot + 1] += sink.total
            self.counts[2, slot + 1] += sink.passes

    def rows(self, duration_s: float) -> list[dict[str, Any]]:
        """`loadgen.endpoints`: one row per request name that made requests, by name."""
        out = []
        for name in sorted(self.names):
            e = self.names[name]
            count, judged, failed = self.counts[:, e.slot + 1].tolist()
            if count == 0:
                continue
            e.flush()
            row: dict[str, Any] = {
                "name": name, "count": count,
                "rate": count / duration_s if duration_s > 0 else 0.0,
                "error_rate": failed / judged if judged else None}
            values = (e.duration.summary_values([s for _, s in _PERCENTILES], duration_s)
                      if not e.duration.empty else {})
            for key, stat in _PERCENTILES:
                row[key] = values.get(stat)
            out.append(row)
        return out

    def warning(self) -> str | None:
        if not self.left_out:
            return None
        more = "+" if len(self.left_out) >= MAX_LEFT_OUT else ""
        return (f"more than {self.max_names} request names: {len(self.left_out)}{more} more "
                "are not in the per-endpoint table (give requests a name= that groups "
                "URLs with ids)")
