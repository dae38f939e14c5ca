"""Live outputs while the run goes: `--out json=FILE` (k6's NDJSON, raw points) and
`json=FILE?points=buckets` (per-interval aggregates), with k6's 200 ms flush policy.

Raw points arrive through the metric store's point hook (every sample, in record order);
buckets are written from the time series once an interval has been closed for a second
(late samples have landed by then). Files are flushed every 200 ms, so a killed run still
leaves everything up to the last flush on disk.
"""

from __future__ import annotations

import sys
import time
from typing import BinaryIO

from loadgen.errors import ConfigError
from loadgen.metrics.ingest import Point, Store
from loadgen.metrics.registry import Registry
from loadgen.metrics.timeseries import TimeSeries
from loadgen.results.bucket_points import completed_points
from loadgen.results.ndjson import NdjsonWriter
from loadgen.thresholds import ThresholdSpec

FLUSH_NS = 200_000_000


def open_outputs(specs: list[str]) -> list[tuple[BinaryIO, str]]:
    """`--out json=FILE` -> [(file, mode)]; k6's `json` without a file (or `-`) is stdout."""
    outs: list[tuple[BinaryIO, str]] = []
    problems: list[str] = []
    for spec in specs:
        kind, _, target = spec.partition("=")
        target, _, query = target.partition("?")
        mode = dict(p.partition("=")[::2] for p in query.split("&") if p).get("points", "raw")
        if kind != "json":
            problems.append(f"unsupported output {spec!r}: loadgen writes json=FILE (k6 NDJSON)")
        elif mode not in ("raw", "buckets"):
            problems.append(f"unsupported points mode {mode!r} in {spec!r} (raw or buckets)")
        elif not target or target == "-":
            outs.append((sys.stdout.buffer, mode))
        else:
            try:
                outs.append((open(target, "wb"), mode))  # noqa: SIM115 - closed in close()
            except OSError as e:
                problems.append(f"cannot write output {target!r}: {e.strerror}")
    if problems:
        raise ConfigError(problems)
    return outs


class Streams:
    """The NDJSON outputs of one run, fed by the store and flushed on a cadence."""

    def __init__(self, specs: list[str], registry: Registry, store: Store,
                 timeseries: TimeSeries, thresholds: dict[str, list[ThresholdSpec]]) -> None:
        self.registry = registry
        self.timeseries = timeseries
        self.outputs = open_outputs(specs)
        self.raw = [NdjsonWriter(f, thresholds) for f, m in self.outputs if m == "raw"]
        self.buckets = [NdjsonWriter(f, thresholds) for f, m in self.outputs if m == "buckets"]
        self._buckets_done_s = float("-inf")
        self._last_flush = 0
        self._wall_offset_ns = time.time_ns() - time.perf_counter_ns()
        self._closed = False
        if self.raw:
            store.add_point_hook(self._write_points)

    def start(self, now_ns: int) -> None:
        """The run's clock at its start: NDJSON times are wall clock, samples are not."""
        self._wall_offset_ns = time.time_ns() - now_ns

    def after_ingest(self) -> None:
        """Called after every ingest: write completed buckets and flush every 200 ms."""
        if not (self.raw or self.buckets):
            return
        now = time.perf_counter_ns()
        if now - self._last_flush >= FLUSH_NS:
            self._last_flush = now
            self._write_buckets(now, final=False)
            for w in self.raw + self.buckets:
                w.flush()

    def _write_buckets(self, now_ns: int, final: bool) -> None:
        """Intervals that ended at least a second ago; at the end, all of them."""
        if not self.buckets:
            return
        ts = self.timeseries
        until = float("inf") if final else (now_ns - ts.origin_ns) / 1e9 - 1.0
        if not final and until - self._buckets_done_s < 1.0:
            return
        origin_wall = ts.origin_ns + self._wall_offset_ns
        last = self._buckets_done_s
        for name, t_end_s, value, tags in completed_points(ts, last, until):
            metric = self.registry[name]
            for w in self.buckets:
                w.sample(metric, origin_wall + round(t_end_s * 1e9), value, tags)
            self._buckets_done_s = max(self._buckets_done_s, t_end_s)

    def _write_points(self, points: list[Point]) -> None:
        off = self._wall_offset_ns
        for w in self.raw:
            for metric, t_ns, value, tags in points:
                w.sample(metric, t_ns + off, value, tags)

    def close(self) -> None:
        """Write what is left, flush and close (also on the hard-exit path); idempotent."""
        if self._closed:
            return
        self._closed = True
        self._write_buckets(time.perf_counter_ns(), final=True)
        for w in self.raw + self.buckets:
            w.flush()
        for f, _ in self.outputs:
            if f is not sys.stdout.buffer:
                f.close()
            else:
                f.flush()
