"""What the live progress shows per scenario beyond VUs and iterations: requests so far,
the failed share, p95 so far and the state of the scenario's thresholds.

A store observer (metrics/ingest.py), so a `--workers` coordinator gets the same figures
from the intervals it absorbs as one process gets from its records. p95 comes from a
log-linear histogram per scenario (the time series' `TrendAgg`: 0.78% relative, a few
hundred buckets whatever the run's length), not from the store's sinks, which are not
kept per scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from loadgen.metrics.ingest import Store
from loadgen.metrics.model import Metric, TagSet
from loadgen.metrics.sinks import CounterSink, RateSink, Sink
from loadgen.metrics.timeseries import TrendAgg
from loadgen.results.judge import Judge

MAX_SCENARIOS = 1_000  # tags are the script's: a scenario tag set per VU must not grow this
_TAG_CACHE_MAX = 100_000


@dataclass
class ScenarioFigures:
    requests: int = 0
    failed: int = 0
    judged: int = 0  # requests with a failed/ok verdict (http_req_failed samples)
    durations: TrendAgg = field(default_factory=TrendAgg)

    @property
    def error_pct(self) -> float | None:
        return 100.0 * self.failed / self.judged if self.judged else None

    @property
    def p95_ms(self) -> float | None:
        return self.durations.values(1.0)["p95"] if self.durations.count else None


@dataclass
class ThresholdState:
    passing: int = 0
    total: int = 0
    failing: list[str] = field(default_factory=list)  # "metric expression", as declared


class LiveFigures:
    def __init__(self, store: Store, judge: Judge | None = None) -> None:
        r = store.registry
        self._reqs, self._failed = r["http_reqs"], r["http_req_failed"]
        self._duration = r["http_req_duration"]
        self.judge = judge
        self.timeseries = store.timeseries
        self.scenarios: dict[str, ScenarioFigures] = {}
        self._figs: list[ScenarioFigures] = []
        self._by_tags: dict[TagSet, int] = {}
        store.add_observer([self._reqs, self._failed, self._duration], self)

    def of(self, scenario: str) -> ScenarioFigures | None:
        return self.scenarios.get(scenario)

    def rate(self, scenario: str, since_s: float, until_s: float) -> float | None:
        """Requests per second made in [since_s, until_s) (seconds since the run's start,
        whole intervals, by each sample's own time): for a fleet, whose samples arrive a
        second late and in per-worker bursts, so that counts between two frames jitter."""
        ts = self.timeseries
        if ts is None or until_s <= since_s:
            return None
        n = sum(v.get("count", 0.0) for a, b, v in ts.buckets("http_reqs", scenario, since_s,
                                                               until_s)
                if a >= since_s - 1e-9 and b <= until_s + 1e-9)
        return n / (until_s - since_s)

    def _no(self, tags: TagSet) -> int:
        """The index of this tag set's scenario in `_figs` (-1: past MAX_SCENARIOS)."""
        name = dict(tags).get("scenario", "")
        got = self.scenarios.get(name)
        if got is None and len(self.scenarios) < MAX_SCENARIOS:
            got = self.scenarios[name] = ScenarioFigures()
            self._figs.append(got)
        no = self._figs.index(got) if got is not None else -1
        if len(self._by_tags) >= _TAG_CACHE_MAX:
            self._by_tags.clear()
        self._by_tags[tags] = no
        return no

    # -- the store's Observer ----------------------------------------------------------------
    def batch(self, metric: Metric, values: np.ndarray, tags: list[TagSet],
              codes: np.ndarray | None) -> None:
        if codes is None:
            tags = tags[:1]
        cached = list(map(self._by_tags.get, tags))  # interned tag sets: a hash hit each
        nos: list[int] = ([self._no(t) if n is None else n
                           for t, n in zip(tags, cached, strict=True)]
                          if None in cached else cached)  # type: ignore[assignment]
        first = nos[0]
        if codes is None or nos.count(first) == len(nos):
            groups = [(self._figs[first], values)] if first >= 0 else []
        else:  # rows grouped by scenario (few), not by tag set (many)
            per_row = np.array(nos)[codes]
            groups = [(self._figs[i], values[per_row == i])
                      for i in sorted(set(nos)) if i >= 0]
        for fig, v in groups:
            if metric is self._reqs:
                fig.requests += len(v)
            elif metric is self._failed:
                fig.judged += len(v)
                fig.failed += int(np.count_nonzero(v))
            else:
                fig.durations.add(v)

    def absorb(self, metric: Metric, tags: TagSet, sink: Sink) -> None:
        no = self._by_tags.get(tags)
        if no is None:
            no = self._no(tags)
        if no < 0:
            return
        fig = self._figs[no]
        if metric is self._reqs and isinstance(sink, CounterSink):
            fig.requests += sink.n
        elif metric is self._failed and isinstance(sink, RateSink):
            fig.judged += sink.total
            fig.failed += sink.passes
        elif metric is self._duration and hasattr(sink, "buckets"):
            vals, counts = sink.buckets()
            fig.durations.add_counts(np.asarray(vals, np.float64), np.asarray(counts))

    # -- thresholds ----------------------------------------------------------------------------
    def thresholds(self, scenario: str | None) -> ThresholdState:
        """The thresholds whose selector names this scenario (None: those naming none), as
        last judged (every 2 s)."""
        out = ThresholdState()
        judge = self.judge
        if judge is None or not judge.enabled:
            return out
        for mt in judge.tset.metrics:
            if dict(mt.tags or ()).get("scenario") != scenario:
                continue
            for spec, ok in zip(mt.specs, list(mt.last_ok), strict=False):
                out.total += 1
                if ok:
                    out.passing += 1
                else:
                    out.failing.append(f"{mt.name} {spec.source}")
        return out
