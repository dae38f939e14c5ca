"""Raw `-o json=FILE` points under `--workers`: each worker writes its own NDJSON part file
beside FILE, and the coordinator appends the parts to FILE once the workers have ended.

Why part files and not samples inside the interval frames: a busy worker records tens of
thousands of samples a second, ~150 bytes each as NDJSON; sent over the pipe they would
make the coordinator (one core, which also judges and merges every worker) parse and
re-write every one of them, and a frame would have to hold a whole second of them. Written
by the worker, the cost is spread over the workers' cores, memory stays what a single run
needs (lines buffered for 200 ms, then flushed), the coordinator copies bytes once at the
end in bounded chunks, and a killed coordinator still leaves every worker's part on disk.
Each point carries an `instance` tag (the worker's index), so the file says who measured
what. Parts need a shared disk: refused for workers on other machines (--listen, --ray).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from loadgen.metrics.ingest import Store
from loadgen.metrics.registry import Registry
from loadgen.results.ndjson import NdjsonWriter
from loadgen.results.streams import FLUSH_NS

log = logging.getLogger("loadgen")
INSTANCE_TAG = "instance"
METRIC_LINE = b'{"type":"Metric"'
COPY_LINE_MAX = 16 * 2**20  # bytes per read: a longer line is copied in pieces


def raw_targets(outputs: Sequence[str]) -> list[str]:
    """The raw (not `points=buckets`) json outputs' targets: a path, or "-" for stdout."""
    out = []
    for spec in outputs:
        kind, _, target = spec.partition("=")
        target, _, query = target.partition("?")
        if kind == "json" and "points=buckets" not in query:
            out.append(target or "-")
    return out


def part_paths(outputs: Sequence[str], workers: int) -> list[list[str]]:
    """Per worker, the part file of each raw output (beside it; stdout's in a temp dir)."""
    tmp: str | None = None
    parts: list[list[str]] = [[] for _ in range(workers)]
    for target in raw_targets(outputs):
        if target == "-":
            tmp = tmp or tempfile.mkdtemp(prefix="loadgen-points-")
            base = os.path.join(tmp, "stdout")
        else:
            base = os.path.abspath(target)
        for i in range(workers):
            parts[i].append(f"{base}.worker{i}.part")
    return parts


class PartWriter:
    """A worker's raw points, written to its part files as a run's NDJSON stream is."""

    def __init__(self, paths: Sequence[str], registry: Registry, index: int) -> None:
        self.expand = Store(registry).points  # only its record -> samples expansion
        self.instance = (INSTANCE_TAG, str(index))
        self.files: list[BinaryIO] = []
        self.writers: list[NdjsonWriter] = []
        self.failure: str | None = None
        self._offset_ns = time.time_ns() - time.perf_counter_ns()
        self._last_flush = 0
        for p in paths:
            try:
                f = open(p, "wb")  # noqa: SIM115 - closed in close()
            except OSError as e:
                self.failure = f"raw points part {p}: {e.strerror or e}"
                continue
            self.files.append(f)
            self.writers.append(NdjsonWriter(f))

    def start(self, now_ns: int) -> None:
        """The run clock's reading now: NDJSON times are wall clock."""
        self._offset_ns = time.time_ns() - now_ns

    def tee(self, ingest: Callable[[Sequence[tuple[object, ...]]], None],
            ) -> Callable[[Sequence[tuple[object, ...]]], None]:
        """An ingest hook that feeds `ingest` and then these part files."""
        def both(records: Sequence[tuple[object, ...]]) -> None:
            ingest(records)
            self.ingest(records)
        return both

    def ingest(self, records: Sequence[tuple[object, ...]]) -> None:
        if not self.writers or not records:
            return
        off, inst = self._offset_ns, self.instance
        points = self.expand(records)
        for w in self.writers:
            for metric, t_ns, value, tags in points:
                w.sample(metric, t_ns + off, value, (*tags, inst))
        now = time.perf_counter_ns()
        if now - self._last_flush >= FLUSH_NS:
            self._last_flush = now
            self._flush()

    def _flush(self) -> None:
        try:
            for w in self.writers:
                w.flush()
        except (OSError, ValueError) as e:
            self.failure = f"raw points part: {getattr(e, 'strerror', None) or e}"
            self.writers = []

    def close(self) -> None:
        self._flush()
        for f in self.files:
            with contextlib.suppress(OSError):
                f.close()
        self.files = []


def append_parts(streams: Any, parts: list[list[str]]) -> list[str]:
    """Append every worker's parts to the coordinator's raw outputs (after its own points),
    Metric lines once per file; the parts are removed once copied. Returns failures."""
    failures: list[str] = []
    raws = [(f, spec) for f, mode, spec in streams.outputs if mode == "raw"]
    streams._flush()
    for k, (f, spec) in enumerate(raws):
        writer = next((w for w in streams.raw if streams._names[id(w)] == spec), None)
        if writer is None:  # that output already failed
            continue
        seen: set[str] = writer._seen
        for worker_parts in parts:
            if k >= len(worker_parts):
                continue
            path = worker_parts[k]
            try:
                _copy(path, f, seen)
                f.flush()
            except OSError as e:
                failures.append(f"--out {spec}: worker part {path}: {e.strerror or e}")
                continue
            with contextlib.suppress(OSError):
                os.remove(path)
                if os.path.basename(path).startswith("stdout."):  # its temp dir, once empty
                    os.rmdir(os.path.dirname(path))
    return failures


def _copy(path: str, out: BinaryIO, seen: set[str]) -> None:
    """Line by line, in bounded reads: Point lines as they are, a Metric line only the
    first time its metric appears in the output, and not a last line cut off by a worker
    that was killed mid-write (the output stays valid NDJSON)."""
    with open(path, "rb") as src:
        while line := src.readline(COPY_LINE_MAX):
            if not line.endswith(b"\n") and not src.peek(1):
                log.warning("%s ends in a cut-off line (its worker was killed); left out",
                            path)
                return
            if line.startswith(METRIC_LINE):
                try:
                    name = str(json.loads(line)["metric"])
                except (ValueError, KeyError, TypeError):
                    name = ""
                if name in seen:
                    continue
                seen.add(name)
            out.write(line)
