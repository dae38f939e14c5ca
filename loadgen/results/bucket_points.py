"""`--out json=FILE?points=buckets`: k6's NDJSON stream written from the per-interval
aggregates instead of every raw sample, so a 4-hour soak at 500 req/s writes a few MB
instead of gigabytes (k6 can only write raw points: its #737/#2988 complaints).

Each completed interval gives, per time-series metric and scenario, one Point per aggregate
(trend: count, avg, min, max, p50, p90, p95, p99; counter: count, rate; rate: rate, passes,
fails; gauge: value, min, max), stamped at the interval's end and tagged `stat=<aggregate>`,
`interval=<seconds>s` and `scenario` when there is one. Readers that re-aggregate raw trend
points must filter on `stat`; the Metric lines are k6's.
"""

from __future__ import annotations

from collections.abc import Iterator

from loadgen.metrics.timeseries import TimeSeries

Row = tuple[str, float, float, dict[str, str]]  # metric, t_end_s, value, tags


def completed_points(ts: TimeSeries, since_s: float, until_s: float) -> Iterator[Row]:
    """Points of every interval that ended in (since_s, until_s], oldest first; the work is
    for those intervals only (a writer calls this every second for hours)."""
    rows: list[tuple[float, str, float, dict[str, str]]] = []
    for metric in sorted(ts.names):
        for scen in ts.scenarios():
            # present_only: an interval with no sample of this metric in this scenario
            # writes nothing (a scenario without iteration_lag wrote zero trends each second)
            for t0, t1, agg in ts.buckets(metric, scenario=scen, since_s=since_s,
                                           until_s=until_s, present_only=True):
                if not since_s < t1 <= until_s or not agg:
                    continue
                base = {"interval": f"{t1 - t0:g}s"}
                if scen:
                    base["scenario"] = scen
                for stat, value in agg.items():
                    rows.append((t1, metric, float(value), {**base, "stat": stat}))
    rows.sort(key=lambda r: r[0])
    for t1, metric, value, tags in rows:
        yield metric, t1, value, tags
