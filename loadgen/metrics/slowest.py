"""The N slowest requests of a run, with what is needed to find them again in the target's
logs and traces (name, method, URL, status, start time, trace id, scenario).

Bounded and cheap on the hot path: a min-heap of at most N entries whose smallest duration
is kept in `floor`; the HTTP client compares each request's duration with `floor` (one float
comparison) and only a request slower than the current Nth is turned into an entry
(O(log N)). A fleet's coordinator absorbs each worker's N slowest and keeps the N slowest of
all.
"""

from __future__ import annotations

import heapq
import math
import time
from datetime import UTC, datetime
from typing import Any

from loadgen.metrics.model import TagSet
from loadgen.net.redact import strip_credentials

DEFAULT_SLOWEST = 10
MAX_SLOWEST = 10_000


def iso_utc(wall_ns: int) -> str:
    """ISO 8601 UTC with milliseconds, `Z` suffix (what a log search takes)."""
    dt = datetime.fromtimestamp(wall_ns / 1e9, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class SlowestRequests:
    __slots__ = ("n", "floor", "_heap", "_seq")

    def __init__(self, n: int = DEFAULT_SLOWEST) -> None:
        self.n = n
        #: a request must be slower than this to enter (inf when off, -inf until full)
        self.floor = -math.inf if n > 0 else math.inf
        self._heap: list[tuple[float, int, Any]] = []
        self._seq = 0

    def offer(self, duration_ms: float, method: str, url: str, tags: TagSet, status: int,
              trace_id: str | None) -> None:
        """A request slower than `floor` (the caller compared): keep it, drop the fastest."""
        if duration_ms <= self.floor:
            return
        self._seq += 1
        entry = (duration_ms, self._seq,
                 (method, url, tags, status, trace_id, time.time_ns() - int(duration_ms * 1e6)))
        self._push(entry)

    def _push(self, entry: tuple[float, int, Any]) -> None:
        heap = self._heap
        if len(heap) < self.n:
            heapq.heappush(heap, entry)
        else:
            heapq.heapreplace(heap, entry)
        if len(heap) >= self.n:
            self.floor = heap[0][0]

    def absorb(self, rows: list[dict[str, Any]]) -> None:
        """Another process's slowest rows (a fleet worker's): the N slowest of both stay."""
        for row in rows[: self.n]:
            try:
                d = float(row["duration_ms"])
            except (KeyError, TypeError, ValueError):
                continue
            if d > self.floor:
                self._seq += 1
                self._push((d, self._seq, dict(row)))

    def rows(self) -> list[dict[str, Any]]:
        """`loadgen.slowest_requests`: slowest first."""
        out = []
        for d, _, item in sorted(self._heap, key=lambda e: (-e[0], e[1])):
            if isinstance(item, dict):
                out.append(item)
                continue
            method, url, tags, status, trace_id, wall_ns = item
            t = dict(tags)
            out.append({"name": t.get("name", ""), "method": method,
                        "url": strip_credentials(url), "status": status, "duration_ms": d,
                        "started": iso_utc(wall_ns), "trace_id": trace_id,
                        "scenario": t.get("scenario")})
        return out
