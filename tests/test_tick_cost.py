"""What the judge does every 2 s must not grow with the run's length.

Counted, never timed: the intervals the time series hands out per tick (`visited`), after N
and after 10N seconds of synthetic data on a fake clock. A stress monitor used to re-read
and re-summarise every interval since the start on every tick (O(elapsed) per tick, so
O(elapsed^2) per run); it now reads only the steps completed since the last tick.
"""

from __future__ import annotations

import numpy as np

from loadgen.execution.engine import ScenarioSpec
from loadgen.executors import ConstantArrivalRate
from loadgen.metrics.ingest import Store
from loadgen.metrics.registry import Registry
from loadgen.metrics.timeseries import TimeSeries
from loadgen.results.judge import Judge
from loadgen.testtypes import Stress, StressPlan

S = 1_000_000_000


class EndlessRamp(Stress):
    """Never breaks (no keep-up SLO, lax p95), so its monitor runs on every tick."""

    abstract = True
    keep_up = 0.0
    p95_ms = 1e9
    max_error_rate = 1.0


def test_the_stress_monitor_reads_a_bounded_number_of_intervals_per_tick() -> None:
    now = [0]  # the run's fake clock: advanced by hand, one second per step
    reg = Registry()
    ts = TimeSeries()
    scen = ts.scenario_no("ramp")
    plan = StressPlan(tuple(float(r) for r in range(10, 20_000, 10)), 10 * S)
    spec = ScenarioSpec("ramp", EndlessRamp, ConstantArrivalRate(rate=1, duration="10h"),
                        plan=plan)
    judge = Judge(reg, Store(reg), ts, [spec], [], now_ns=lambda: now[0])
    judge.exec_started(0)
    dur, failed, iters = reg["http_req_duration"], reg["http_req_failed"], reg["iterations"]
    cost: dict[int, int] = {}
    n = 60
    for sec in range(10 * n + 1):
        t = np.full(20, sec * S + S // 2, dtype=np.int64)
        ts.add(dur, t, np.full(20, 5.0), scen)
        ts.add(failed, t, np.zeros(20), scen)
        ts.add(iters, t, np.ones(20), scen)
        now[0] += S
        if sec % 2 == 0:
            before = ts.visited
            assert judge.tick(sec + 1.0) is None
            cost[sec] = ts.visited - before
    early = max(c for s, c in cost.items() if n - 20 <= s <= n)
    late = max(c for s, c in cost.items() if 10 * n - 20 <= s <= 10 * n)
    # one 10 s step's intervals for 4 reads (latency, errors, iterations, drops) at most;
    # before: every interval since the start, on every tick (~4 x 600 at the end)
    assert early <= 4 * 12 and late <= early, (early, late)
    assert judge._memo["ramp"]["steps_held"] == n  # 60 steps of 10 s, each judged once


def test_the_progress_line_of_a_long_saturated_run_does_not_grow() -> None:
    """Drawn every second: it used to list every saturated span since the start."""
    from types import SimpleNamespace

    from loadgen.execution.progress import Progress
    from loadgen.watch.generator import Saturation

    def line(spans: int) -> str:
        sat = Saturation([(1e9 + 10.0 * i, 1e9 + 10.0 * i + 4) for i in range(spans)], spans)
        watch = SimpleNamespace(saturation=sat, current_cpu=1.0, current_lag_ms=12.0)
        engine = SimpleNamespace(runtimes=[], exec_start_ns=0)
        out = Progress(watch=watch).lines(engine, 60.0)  # type: ignore[arg-type]
        return out[-1]

    assert len(line(10_000)) - len(line(4)) <= 4  # only the count of earlier spans grows
    assert line(10_000).endswith("(and 9997 earlier)")
    assert not line(3).endswith("earlier)")
