"""Live outputs while the run goes: `--out json=FILE` (k6's NDJSON, raw points) and
`json=FILE?points=buckets` (per-interval aggregates), with k6's 200 ms flush policy.

Raw points arrive through the metric store's point hook (every sample, in record order);
buckets are written from the time series once an interval has been closed for a second
(late samples have landed by then). Files are flushed every 200 ms, so a killed run still
leaves everything up to the last flush on disk.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger("loadgen")
FLUSH_NS = 200_000_000


def open_outputs(specs: list[str]) -> list[tuple[BinaryIO, str, str]]:
    """`--out json=FILE` -> [(file, mode, spec)]; k6's `json` without a file (or `-`) is
    stdout."""
    outs: list[tuple[BinaryIO, str, str]] = []
    problems: list[str] = []
    for spec in specs:
        kind, _, target = spec.partition("=")
        if kind.strip() == "prometheus":
            continue  # served, not written: results/prometheus.py
        target, _, query = target.partition("?")
        mode = dict(p.partition("=")[::2] for p in query.split("&") if p).get("points", "raw")
        if kind != "json":
            problems.append(f"unsupported output {spec!r}: loadgen writes json=FILE (k6 NDJSON) "
                            "and serves prometheus=HOST:PORT")
        elif mode not in ("raw", "buckets"):
            problems.append(f"unsupported points mode {mode!r} in {spec!r} (raw or buckets)")
        elif not target or target == "-":
            outs.append((sys.stdout.buffer, mode, spec))
        else:
            try:
                outs.append((open(target, "wb"), mode, spec))  # noqa: SIM115 - closed in close()
            except OSError as e:
                problems.append(f"cannot write output {target!r}: {e.strerror}")
    if problems:
        raise ConfigError(problems)
    return outs


class Streams:
    """The NDJSON outputs of one run, fed by the store and flushed on a cadence.

    A stream that cannot be written (disk full, a closed pipe) is dropped with one error
    and listed in `failures`; the run, the other streams and the summaries go on.
    """

    def __init__(self, specs: list[str], registry: Registry, store: Store,
                 timeseries: TimeSeries, thresholds: dict[str, list[ThresholdSpec]]) -> None:
        self.registry = registry
        self.timeseries = timeseries
        self.outputs = open_outputs(specs)
        self.raw: list[NdjsonWriter] = []
        self.buckets: list[NdjsonWriter] = []
        self._names: dict[int, str] = {}
        for f, mode, spec in self.outputs:
            w = NdjsonWriter(f, thresholds)
            (self.raw if mode == "raw" else self.buckets).append(w)
            self._names[id(w)] = spec
        self.failures: list[str] = []
        self._buckets_done_s = float("-inf")
        self._last_flush = 0
        self._wall_offset_ns = time.time_ns() - time.perf_counter_ns()
        self._closed = False
        if self.raw:
            store.add_point_hook(self._write_points)

    def start(self, now_ns: int, wall_ns: int | None = None) -> None:
        """The run's clock at its start: NDJSON times are wall clock, samples are not.
        `wall_ns`: the wall clock of that start when it is not now (a merge of archives)."""
        self._wall_offset_ns = (time.time_ns() if wall_ns is None else wall_ns) - now_ns

    def after_ingest(self) -> None:
        """Called after every ingest: write completed buckets and flush every 200 ms."""
        if not (self.raw or self.buckets):
            return
        now = time.perf_counter_ns()
        if now - self._last_flush >= FLUSH_NS:
            self._last_flush = now
            self._write_buckets(now, final=False)
            self._flush()

    def _flush(self) -> None:
        for w in self.raw + self.buckets:
            try:
                w.flush()
            except (OSError, ValueError) as e:  # ValueError: the file was closed under us
                self._drop(w, e)

    def _drop(self, w: NdjsonWriter, e: Exception) -> None:
        for lst in (self.raw, self.buckets):
            if w in lst:
                lst.remove(w)
        msg = f"--out {self._names[id(w)]}: {getattr(e, 'strerror', None) or e}"
        self.failures.append(msg)
        log.error("could not write %s; that output stops here, the run goes on", msg)

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
        self._flush()
        for f, _, spec in self.outputs:
            try:
                if f is not sys.stdout.buffer:
                    f.close()
                else:
                    f.flush()
            except (OSError, ValueError) as e:
                if not any(x.startswith(f"--out {spec}:") for x in self.failures):
                    self.failures.append(f"--out {spec}: {getattr(e, 'strerror', None) or e}")
