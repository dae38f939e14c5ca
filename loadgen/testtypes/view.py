"""What a verdict reads: the run's per-interval series for one scenario, on a time axis that
starts when that scenario started (so a test type's phases line up with its own shape), and
the plan its shape() made for this run."""

from __future__ import annotations

from dataclasses import dataclass
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

    @property
    def until_s(self) -> float:
        """The end of the scenario's load so far: verdict windows stop here."""
        return min(self.elapsed_s, self.duration_s)

    def _rows(self, metric: str) -> dict[float, tuple[float, dict[str, float]]]:
        rows: dict[float, tuple[float, dict[str, float]]] = {}
        for t0, t1, agg in self.timeseries.buckets(metric, scenario=self.scenario):
            rows[round(t0 - self.start_s, 6)] = (t1 - self.start_s, agg)
        return rows

    def series(self, latency: str = "http_req_duration") -> list[Bucket]:
        """(t0, t1, p95 ms, error rate, count) per interval, relative to the scenario start.

        Intervals where nothing completed are absent. The error rate comes from
        http_req_failed when requests ran, else 0."""
        lat = self._rows(latency)
        err = self._rows("http_req_failed")
        out: list[Bucket] = []
        for t0 in sorted(lat):
            t1, a = lat[t0]
            e = err.get(t0, (t1, {}))[1]
            out.append((t0, t1, float(a.get("p95", 0.0)), float(e.get("rate", 0.0)),
                        int(a.get("count", 0))))
        return out

    def counts(self, metric: str) -> list[tuple[float, float, float]]:
        """(t0, t1, count) of a counter per interval (iterations, dropped_iterations...)."""
        return [(t0, t1, float(a.get("count", 0.0)))
                for t0, (t1, a) in sorted(self._rows(metric).items())]
