"""Per-endpoint views: for every request `name`, its count, rate, error rate and latency
percentiles (`loadgen.endpoints`, the `--summary-by-name` table, the HTML report).

Names are not known before the run, so the store tells us each new tag set before its
values are fed (Store.add_tagset_hook): the first time a name appears, three internal
sub-metrics (`http_reqs`, `http_req_duration`, `http_req_failed` with `name:<it>`) are
added and receive every later sample of it, from this process or from a worker's
interval alike. Internal: never listed as k6 sub-metrics unless a threshold (an SLO)
names the same one. Bounded: past MAX_NAMES distinct names (a URL used as the name, with
ids in it) no more are tracked and the summary says how many were left out.
"""

from __future__ import annotations

from typing import Any

from loadgen.metrics.ingest import Store
from loadgen.metrics.model import SubMetric, TagSet

MAX_NAMES = 500
MAX_LEFT_OUT = 10_000  # names beyond the table are only counted, up to this many
_METRICS = ("http_reqs", "http_req_duration", "http_req_failed")
_PERCENTILES = (("p50", "p(50)"), ("p90", "p(90)"), ("p95", "p(95)"), ("p99", "p(99)"),
                ("max", "max"))


class EndpointViews:
    def __init__(self, store: Store, max_names: int = MAX_NAMES) -> None:
        self.store = store
        self.max_names = max_names
        self.names: dict[str, tuple[SubMetric, ...]] = {}
        self.left_out: set[str] = set()
        store.add_tagset_hook(self.seen)

    def seen(self, tags: TagSet) -> None:
        """A new tag set: track its request name if it is new (and there is room)."""
        name = next((v for k, v in tags if k == "name"), None)
        if name is None or name in self.names:
            return
        if len(self.names) >= self.max_names:
            if len(self.left_out) < MAX_LEFT_OUT:  # only a count is shown: stay bounded
                self.left_out.add(name)
            return
        subs = []
        for metric in _METRICS:
            parent = self.store.registry[metric]
            before = len(parent.submetrics)
            sub = self.store.add_submetric(parent, f"name:{name}", (("name", name),))
            if len(parent.submetrics) > before:  # ours, not a threshold's (an SLO's)
                sub.internal = True
            subs.append(sub)
        self.names[name] = tuple(subs)

    def rows(self, duration_s: float) -> list[dict[str, Any]]:
        """`loadgen.endpoints`: one row per request name that made requests, by name."""
        out = []
        for name in sorted(self.names):
            reqs, duration, failed = (self.store.existing(s) for s in self.names[name])
            count = int(reqs.aggregate("count", duration_s) or 0) if reqs is not None else 0
            if count == 0:
                continue
            row: dict[str, Any] = {"name": name, "count": count,
                                   "rate": count / duration_s if duration_s > 0 else 0.0}
            row["error_rate"] = (failed.aggregate("rate", duration_s)
                                 if failed is not None and not failed.empty else None)
            values = (duration.summary_values([s for _, s in _PERCENTILES], duration_s)
                      if duration is not None and not duration.empty else {})
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
