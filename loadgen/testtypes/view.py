"""What a verdict reads: the run's per-interval series for one scenario, on a time axis that
starts when that scenario started (so a test type's phases line up with its own shape), and
the plan its shape() made for this run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loadgen.metrics.timeseries import TimeSeries
from loadgen.testtypes.maths import Bucket


@dataclass
class RunView:
    timeseries: TimeSeries
    scenario: str
    start_s: float  # the scenario's start, in time-series seconds
    elapsed_s: float  # how far the scenario has run (now, or at the end)
    store: Any = None  # metrics Store, for whole-run aggregates
    final: bool = False
    duration_s: float = float("inf")  # the executor's own length (without graceful stop)
    plan: Any = None  # what the type's shape() worked out for this run (see base.Shape)
    #: what a monitor worked out on earlier ticks of this run (the judge keeps one dict per
    #: scenario): lets it read only the intervals that are new since then
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def until_s(self) -> float:
        """The end of the scenario's load so far: verdict windows stop here."""
        return min(self.elapsed_s, self.duration_s)

    def _rows(self, metric: str, t0: float | None, t1: float | None
              ) -> dict[float, tuple[float, dict[str, float]]]:
        rows: dict[float, tuple[float, dict[str, float]]] = {}
        since = None if t0 is None else self.start_s + t0
        until = None if t1 is None else self.start_s + t1
        for a, b, agg in self.timeseries.buckets(metric, scenario=self.scenario,
                                                 since_s=since, until_s=until):
            rows[round(a - self.start_s, 6)] = (b - self.start_s, agg)
        return rows

    def series(self, latency: str = "http_req_duration", t0: float | None = None,
               t1: float | None = None) -> list[Bucket]:
        """(t0, t1, p95 ms, error rate, count) per interval, relative to the scenario start;
        with `t0`/`t1`, only the intervals that overlap [t0, t1) are read (a monitor's
        window: its cost is that window's, not the run's so far).

        Intervals where nothing completed are absent. The error rate comes from
        http_req_failed when requests ran, else 0."""
        lat = self._rows(latency, t0, t1)
        err = self._rows("http_req_failed", t0, t1)
        out: list[Bucket] = []
        for t0 in sorted(lat):
            t1, a = lat[t0]
            e = err.get(t0, (t1, {}))[1]
            out.append((t0, t1, float(a.get("p95", 0.0)), float(e.get("rate", 0.0)),
                        int(a.get("count", 0))))
        return out

    def counts(self, metric: str, t0: float | None = None, t1: float | None = None
               ) -> list[tuple[float, float, float]]:
        """(t0, t1, count) of a counter per interval (iterations, dropped_iterations...),
        optionally only the intervals overlapping [t0, t1)."""
        return [(a, b, float(agg.get("count", 0.0)))
                for a, (b, agg) in sorted(self._rows(metric, t0, t1).items())]
