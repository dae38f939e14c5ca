"""Per-endpoint views: for every request `name`, its count, rate, error rate and latency
percentiles (`loadgen.endpoints`, the `--summary-by-name` table, the HTML report).

Names are not known before the run, and one sub-metric per name would make every ingest
batch scan every name's sub-metric (ingest cost grew with the number of names: 13x at 100
names). Instead the store hands each batch of HTTP records over once
(Store.add_http_hook): rows are grouped by name with one stable sort, and each name present
gets one add per sink. A worker's absorbed intervals (a fleet, `loadgen merge`) are merged
into the same sinks. Sinks come from the store (its units, so merged intervals stay exact).

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
    count: int = 0
    failed: int = 0  # requests counted as failed (http_req_failed 1)
    judged: int = 0  # requests with an http_req_failed sample at all
    slot: int = 0
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
        store.add_http_hook(self.batch, self.absorbed)

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

    def batch(self, codes: np.ndarray | None, tag_sets: list[TagSet], duration: np.ndarray,
              failed: np.ndarray) -> None:
        """One ingest batch of HTTP records, grouped by name: counts by one bincount each,
        latencies by one add per name present."""
        slots = np.fromiter((self._slot(t) for t in tag_sets), np.int64, len(tag_sets))
        judged = ~np.isnan(failed)
        if codes is None or len(slots) == 1 or (slots == slots[0]).all():
            slot = int(slots[0])
            if slot != _NONE:
                e = self._by_slot[slot]
                e.count += len(duration)
                e.add(duration)
                e.judged += int(np.count_nonzero(judged))
                e.failed += int(np.count_nonzero(failed[judged]))
            return
        row_slots = slots[codes] + 1  # 0: no name
        k = len(self._by_slot) + 1
        counts = np.bincount(row_slots, minlength=k).tolist()
        seen = np.bincount(row_slots[judged], minlength=k).tolist()
        fails = np.bincount(row_slots[judged], weights=failed[judged], minlength=k).tolist()
        order = np.argsort(row_slots, kind="stable")  # stable: record order within a name
        ordered = row_slots[order]
        cuts = (np.flatnonzero(ordered[1:] != ordered[:-1]) + 1).tolist()
        firsts = ordered[[0, *cuts]].tolist()
        for s, start, end in zip(firsts, [0, *cuts], [*cuts, len(order)], strict=True):
            if s == 0:
                continue
            e = self._by_slot[s - 1]
            e.count += counts[s]
            e.judged += seen[s]
            e.failed += int(fails[s])
            e.add(duration[order[start:end]])

    def absorbed(self, metric: Metric, tags: TagSet, sink: Sink) -> None:
        """Another process's aggregate of one tag set (a fleet worker's interval)."""
        if metric is not self._reqs and metric is not self._duration and (
                metric is not self._failed):
            return
        slot = self._slot(tags)
        if slot == _NONE:
            return
        entry = self._by_slot[slot]
        if metric is self._duration:
            entry.flush()  # order: what this process had before, then the interval
            merge_sink(entry.duration, sink)
        elif metric is self._reqs and isinstance(sink, CounterSink):
            entry.count += int(sink.aggregate("count", 0) or 0)
        elif isinstance(sink, RateSink):
            entry.failed += sink.passes
            entry.judged += sink.total

    def rows(self, duration_s: float) -> list[dict[str, Any]]:
        """`loadgen.endpoints`: one row per request name that made requests, by name."""
        out = []
        for name in sorted(self.names):
            e = self.names[name]
            if e.count == 0:
                continue
            e.flush()
            row: dict[str, Any] = {
                "name": name, "count": e.count,
                "rate": e.count / duration_s if duration_s > 0 else 0.0,
                "error_rate": e.failed / e.judged if e.judged else None}
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
