"""Verdicts that cannot decide say `?`, never ✓ (synthetic per-second series, no clocks).

The soak case is the one that shipped: a 35 s soak whose p95 climbed 5 -> 65 ms with 1.7%
errors printed "✓ no drift", because windows of 4 intervals can never reach p < 0.01.
"""

from __future__ import annotations

import numpy as np

from loadgen.metrics.model import Metric, MetricType
from loadgen.metrics.timeseries import TimeSeries
from loadgen.testtypes import Soak, Spike, Stress
from loadgen.testtypes.maths import mann_whitney_p, min_window
from loadgen.testtypes.spike import SpikePlan
from loadgen.testtypes.stress import StressPlan
from loadgen.testtypes.view import RunView

S = 1_000_000_000
DUR = Metric("http_req_duration", MetricType.TREND)
FAILED = Metric("http_req_failed", MetricType.RATE)


def timeseries(p95s: list[float], error_rate: float = 0.0, n: int = 200) -> TimeSeries:
    """One second per value: `n` requests of which the top 5% take `p95`, 1 ms the rest."""
    ts = TimeSeries()
    scen = ts.scenario_no("s")
    rng = np.random.default_rng(7)
    for sec, p95 in enumerate(p95s):
        t = np.full(n, sec * S + S // 2, dtype=np.int64)
        v = np.where(np.arange(n) < n * 0.9, 1.0, p95 * rng.uniform(0.99, 1.01, n))
        ts.add(DUR, t, v, scen)
        ts.add(FAILED, t, (np.arange(n) < round(n * error_rate)).astype(np.float64), scen)
    return ts


def view(ts: TimeSeries, seconds: float, plan: object = None) -> RunView:
    return RunView(ts, "s", 0.0, seconds, None, True, seconds, plan=plan)


class ShortSoak(Soak):
    abstract = True


def climbing(seconds: int, lo: float = 5.0, hi: float = 65.0) -> list[float]:
    return [lo + (hi - lo) * i / (seconds - 1) for i in range(seconds)]


def test_the_smallest_window_that_can_reach_significance_comes_from_the_test() -> None:
    n = min_window(0.01)
    assert n == 6
    # the best case: no overlap, no ties
    assert mann_whitney_p(range(n - 1), range(n - 1, 2 * n - 2)) >= 0.01
    assert mann_whitney_p(range(n), range(n, 2 * n)) < 0.01
    assert ShortSoak.steady_needed() == 30


def test_a_short_soak_that_drifted_is_undecided_not_a_pass() -> None:
    ts = timeseries(climbing(35), error_rate=0.017)
    v = ShortSoak.verdict(view(ts, 35.0))
    assert v.ok is None, v.headline  # was True: "no drift"
    assert "too short to judge drift" in v.headline and ">= 6 per window" in v.headline
    assert v.figures["window_intervals"] < v.figures["window_needed"] == 6
    assert v.render().lstrip().startswith("?")


def test_a_soak_just_long_enough_finds_the_same_drift() -> None:
    ts = timeseries(climbing(40), error_rate=0.0)
    flat = timeseries([5.0] * 40)
    v = ShortSoak.verdict(view(ts, 40.0))  # warm-up 10 s, 30 steady, windows of 6
    assert v.ok is False and v.headline.startswith("drift: p95_ms")
    assert ShortSoak.verdict(view(flat, 40.0)).ok is True


def test_worse_beyond_the_tolerance_without_significance_is_undecided() -> None:
    # windows of 6: p95 doubles on average but the two windows overlap (noise)
    first = [5.0, 40.0, 5.0, 40.0, 5.0, 40.0]
    last = [60.0, 6.0, 60.0, 6.0, 60.0, 6.0]
    middle = [20.0] * 18
    ts = timeseries([5.0] * 10 + first + middle + last)
    v = ShortSoak.verdict(view(ts, 40.0))
    assert v.ok is None and v.headline.startswith("cannot tell: p95_ms"), v.headline
    assert v.figures["p95_ms"]["decided"] is False


def test_a_spike_cut_before_its_recovery_could_be_seen_is_undecided() -> None:
    plan = SpikePlan(1.0, (("warm", 10.0), ("ramp_up", 2.0), ("hold", 3.0),
                           ("ramp_down", 2.0), ("recover", 10.0)))
    ts = timeseries([5.0] * 10 + [200.0] * 7 + [5.0] * 10)
    done = Spike.verdict(view(ts, 27.0, plan))
    assert done.ok is True
    cut = Spike.verdict(view(ts, 17.5, plan))  # stopped half a second after the spike
    assert cut.ok is None and "cannot tell" in cut.headline, cut.headline  # was ✗


def test_a_spike_without_a_baseline_is_undecided() -> None:
    plan = SpikePlan(1.0, (("warm", 10.0), ("ramp_up", 2.0), ("hold", 3.0),
                           ("ramp_down", 2.0), ("recover", 10.0)))
    ts = TimeSeries()
    scen = ts.scenario_no("s")
    for sec in range(10, 27):  # nothing answered during the warm-up
        t = np.full(10, sec * S, dtype=np.int64)
        ts.add(DUR, t, np.full(10, 3.0), scen)
    v = Spike.verdict(view(ts, 27.0, plan))
    assert v.ok is None and "no baseline" in v.headline, v.headline


def test_a_stress_run_without_one_complete_step_is_undecided() -> None:
    plan = StressPlan((10.0, 20.0), 30 * S)
    v = Stress.verdict(view(timeseries([5.0] * 12), 12.0, plan))
    assert v.ok is None and v.headline == "no complete step was measured"  # was ✗
