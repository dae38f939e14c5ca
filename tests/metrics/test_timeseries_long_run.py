"""A long run's time series stays small and its end-of-run answers stay right.

Old intervals are merged in pairs once `max_buckets` is reached (the newer half stays at
1 s), so memory stops growing after a few minutes instead of after an hour; what was
written live, the run totals and the verdicts must not change because of it.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from loadgen.metrics.model import Metric, MetricType
from loadgen.metrics.timeseries import MAX_BUCKETS, TimeSeries
from loadgen.results.bucket_points import completed_points
from loadgen.testtypes import Soak, Spike
from loadgen.testtypes.spike import SpikePlan
from loadgen.testtypes.view import RunView

S = 1_000_000_000
DUR = Metric("http_req_duration", MetricType.TREND)
FAILED = Metric("http_req_failed", MetricType.RATE)
REQS = Metric("http_reqs", MetricType.COUNTER)


def feed(ts: TimeSeries, sec: int, p95: float, n: int = 50, scen: int = 0) -> None:
    t = np.full(n, sec * S + S // 2, dtype=np.int64)
    v = np.where(np.arange(n) < n * 0.9, 1.0 + (sec % 5) * 0.1, p95)
    ts.add(DUR, t, v, scen)
    ts.add(FAILED, t, (np.arange(n) < (sec % 3)).astype(np.float64), scen)
    ts.add(REQS, t, np.ones(n), scen)


def test_memory_stops_growing_once_the_cap_is_reached() -> None:
    """500 samples/s of a wide latency spread: after ~4 minutes the series is flat (it used
    to keep 3,600 intervals at 1 s: +~5 MB per 10 minutes for the first hour)."""
    ts = TimeSeries()
    scen = ts.scenario_no("s")
    rng = np.random.default_rng(3)
    tracemalloc.start()
    try:
        at: dict[int, int] = {}
        for sec in range(1200):
            t = np.full(500, sec * S + S // 2, dtype=np.int64)
            ts.add(DUR, t, rng.lognormal(1.0, 1.0, 500), scen)
            ts.add(REQS, t, np.ones(500), scen)
            if sec in (300, 1199):
                at[sec] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(ts) <= MAX_BUCKETS
    assert at[1199] - at[300] < 400_000, at  # 900 s more: was ~+6 MB


def test_the_newer_half_stays_at_one_second_and_totals_survive_merging() -> None:
    ts = TimeSeries()
    for sec in range(3600):
        feed(ts, sec, 5.0 + sec % 7)
    rows = ts.buckets("http_req_duration")
    assert len(rows) <= MAX_BUCKETS
    newest = rows[-MAX_BUCKETS // 2:]
    assert all(b - a == 1.0 for a, b, _ in newest)
    assert rows[0][0] == 0.0 and rows[-1][1] == 3600.0
    assert all(rows[i][1] == rows[i + 1][0] for i in range(len(rows) - 1))  # no gap
    assert sum(r[2]["count"] for r in rows) == 3600 * 50
    assert max(r[2]["max"] for r in rows) == 11.0
    assert sum(r[2]["count"] for r in ts.buckets("http_reqs")) == 3600 * 50
    failed = ts.buckets("http_req_failed")
    assert sum(r[2]["passes"] for r in failed) == sum(s % 3 for s in range(3600))


def test_the_live_writer_still_writes_every_second_at_one_second() -> None:
    """Merging only touches intervals minutes old; the writer is a second behind."""
    ts = TimeSeries()
    scen = ts.scenario_no("s")
    written: list[tuple[float, float]] = []
    done = float("-inf")
    for sec in range(900):
        feed(ts, sec, 5.0, scen=scen)
        until = sec - 1.0
        for name, t1, value, tags in completed_points(ts, done, until):
            if name == "http_reqs" and tags["stat"] == "count":
                assert tags["interval"] == "1s"
                written.append((t1, value))
            done = max(done, t1)
    assert [t for t, _ in written] == [float(s) for s in range(1, 899)]
    assert all(v == 50 for _, v in written)


def test_a_default_spike_keeps_its_recovery_time_to_the_second() -> None:
    plan = SpikePlan(1.0, (("warm", 60.0), ("ramp_up", 60.0), ("hold", 30.0),
                           ("ramp_down", 30.0), ("recover", 120.0)))
    verdicts = []
    for cap in (3600, MAX_BUCKETS):
        ts = TimeSeries(max_buckets=cap)
        scen = ts.scenario_no("s")
        for sec in range(305):
            p95 = 400.0 if 60 <= sec < 180 + 7 else 5.0  # recovers 7 s after the spike
            feed(ts, sec, p95, scen=scen)
        v = Spike.verdict(RunView(ts, "s", 0.0, 305.0, None, True, 300.0, plan=plan))
        verdicts.append((v.ok, v.figures["recovery_s"], v.figures["baseline_p95_ms"]))
    # the same answer as with an hour at 1 s (9 s: the error rate settles 2 s after p95)
    assert verdicts[0] == verdicts[1] == (True, 9.0, 5.0)


@pytest.mark.parametrize("hours", [1, 4])
def test_a_long_soak_still_has_enough_intervals_per_window_and_finds_drift(hours: int) -> None:
    class Long(Soak):
        abstract = True
        duration = f"{hours}h"

    seconds = hours * 3600
    ts = TimeSeries()
    scen = ts.scenario_no("s")
    for sec in range(0, seconds, 4):  # every 4th second: enough to fill each interval
        feed(ts, sec, 5.0 + 60.0 * sec / seconds, scen=scen)
    view = RunView(ts, "s", 0.0, float(seconds), None, True, float(seconds))
    v = Long.verdict(view)
    assert v.figures["window_intervals"] >= 6, v.figures
    assert v.ok is False and v.headline.startswith("drift: p95_ms"), v.headline
