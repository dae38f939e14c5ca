"""The run's metrics as Prometheus families (`--out prometheus=HOST:PORT`), kept live.

Why a collector of our own and not prometheus_client's Counter/Histogram objects: those
take a lock and a Python call per observation (~1-2 µs, per sample); here the store shows
us each batch grouped by tag set (metrics/ingest.py `Observer`), so a batch costs a few
numpy calls (a searchsorted and a bincount for a histogram) plus one dict look-up per
distinct tag set, whatever the number of records. Scrapes read a copy taken under a lock
(the server runs in its own threads) and render it with prometheus_client's families.

Labels are a fixed, small subset of each metric's tags (`LABELS`), and each family keeps
at most `cap` label sets (1,000 by default): past it, new ones fold their high-cardinality
label (name, check, group) into "other" (and, past twice the cap, every label), with one
warning per run. Trend values in ms become `_seconds` histograms; `+inf` (unserved
open-model work) is left out of them (dropped iterations have their own counter).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import numpy as np
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.core import Metric as PromMetric

from loadgen.metrics.model import Metric, TagSet
from loadgen.metrics.registry import HTTP_TIMING_METRICS, Registry
from loadgen.metrics.sinks import Sink
from loadgen.results.prom_families import Family, family_class

log = logging.getLogger("loadgen")

DEFAULT_CAP = 1_000
_HTTP = ("scenario", "name", "method", "status")
_SCENARIO = ("scenario",)
LABELS: dict[str, tuple[str, ...]] = {
    "http_reqs": _HTTP, "http_req_duration": _HTTP, "http_req_failed": _HTTP,
    "checks": ("scenario", "check"), "group_duration": ("scenario", "group"),
    "vus": (), "vus_max": (), "loadgen_cpu": (), "loadgen_loop_lag": (),
    "loadgen_saturated": (),
    **{n: _SCENARIO for n in ("iterations", "iteration_duration", "dropped_iterations",
                              "iteration_lag", "iteration_latency", "data_sent",
                              "data_received")},
}
DEFAULT_LABELS = ("scenario", "name")
#: the HTTP phases other than the duration: 6 more histograms per label set, little news
SKIPPED = frozenset(HTTP_TIMING_METRICS[1:])

ThresholdStates = Callable[[], list[tuple[str, str, bool]]]


class LiveMetrics:
    """A store observer and a prometheus_client collector of the same numbers."""

    def __init__(self, registry: Registry, names: list[str], *,
                 thresholds: ThresholdStates | None = None, cap: int = DEFAULT_CAP) -> None:
        """`names`: the metrics to export (built-ins and the script's own, not scraped
        ones: the target already serves those); `thresholds`: (metric, source, ok) now."""
        self.lock = threading.Lock()
        self.thresholds = thresholds
        self.folded_warned = False
        self.families: dict[Metric, Family] = {}
        for n in names:
            m = registry.get(n)
            if m is None or n in SKIPPED:
                continue
            labels = LABELS.get(n, DEFAULT_LABELS)
            self.families[m] = family_class(m)(m, labels, cap, self._folded)

    @property
    def metrics(self) -> list[Metric]:
        return list(self.families)

    def _folded(self, family: str) -> None:
        if not self.folded_warned:
            self.folded_warned = True
            log.warning("prometheus output: %s has more than %d label sets; further ones are "
                        "folded into name=\"other\" (and the like) from here on, for this and "
                        "any other metric", family, next(iter(self.families.values())).cap)

    # -- the store's Observer --------------------------------------------------------------
    def batch(self, metric: Metric, values: np.ndarray, tags: list[TagSet],
              codes: np.ndarray | None) -> None:
        fam = self.families.get(metric)
        if fam is None or not len(values):
            return
        if codes is None:
            tags = tags[:1]
        else:  # a batch's tag sets are shared by its metrics: keep the ones in these rows
            used = np.flatnonzero(np.bincount(codes, minlength=len(tags)))
            if len(used) < len(tags):
                remap = np.zeros(len(tags), np.int64)
                remap[used] = np.arange(len(used))
                codes, tags = remap[codes], [tags[i] for i in used.tolist()]
        with self.lock:
            fam.batch(values, tags, codes)

    def absorb(self, metric: Metric, tags: TagSet, sink: Sink) -> None:
        fam = self.families.get(metric)
        if fam is not None:
            with self.lock:
                fam.absorb(tags, sink)

    # -- the collector (a server thread) ------------------------------------------------------
    def collect(self) -> Iterator[PromMetric]:
        with self.lock:  # copies only: rendering happens outside the lock
            snaps = [(type(f), f.name, f.labels, list(f.keys), f.snapshot())
                     for f in self.families.values() if f.keys]
        for cls, name, labels, keys, snap in snaps:
            yield from cls.families(name, labels, keys, snap)
        if self.thresholds is not None:
            g = GaugeMetricFamily("loadgen_threshold_passing",
                                  "1 while the threshold passes, 0 once it fails (judged "
                                  "every 2 s)", labels=("metric", "threshold"))
            for metric, source, ok in self.thresholds():
                g.add_metric((metric, source), 1.0 if ok else 0.0)
            yield g
