"""The open model against a target that stalls: iteration_latency (from the intended start)
must show the stall as the schedule predicts; a closed-model run hides most of it
(coordinated omission)."""

from __future__ import annotations

import numpy as np
import pytest
from realrun import RealRun
from servers import Stall, make_app, serve

from loadgen import ConstantArrivalRate, ConstantVUs, Scenario

RATE, DURATION, STALL_AT, STALL_LEN = 100, 3.0, 1.0, 0.6


class Get(Scenario):
    name = "get"

    async def iteration(self, vu):
        r = await vu.http.get("/")
        assert r.status == 200


def expected_latencies_ms(service_ms: float) -> np.ndarray:
    """What the schedule predicts: iterations intended during the stall wait for its end."""
    intended = np.arange(int(RATE * DURATION)) / RATE
    stalled = (intended >= STALL_AT) & (intended < STALL_AT + STALL_LEN)
    wait = np.where(stalled, STALL_AT + STALL_LEN - intended, 0.0)
    return wait * 1000 + service_ms


@pytest.mark.slow
async def test_iteration_latency_reflects_a_stall_closed_model_hides_it(capsys):
    with serve(lambda: make_app(Stall(STALL_AT, STALL_LEN))) as url:
        rr = RealRun(url)
        await rr.run((Get, ConstantArrivalRate(rate=RATE, duration=f"{DURATION}s",
                                               pre_allocated_vus=20, max_vus=200)))
    lat = np.array(rr.values("iteration_latency"))
    assert len(lat) == RATE * DURATION
    assert rr.values("dropped_iterations") == []
    service = float(np.median(lat))  # the unstalled service time
    want = expected_latencies_ms(service)
    report = []
    for q in (90, 95, 99):
        got, exp = np.percentile(lat, q), np.percentile(want, q)
        report.append(f"p{q} {got:.1f} ms (schedule says {exp:.1f})")
        assert abs(got - exp) <= 0.10 * exp, (q, got, exp)
    lag_p50 = np.median(rr.values("iteration_lag"))
    assert lag_p50 < 5  # the generator kept its schedule

    with serve(lambda: make_app(Stall(STALL_AT, STALL_LEN))) as url:
        closed = RealRun(url)
        await closed.run((Get, ConstantVUs(vus=2, duration=f"{DURATION}s")))
    dur = np.array(closed.values("iteration_duration"))
    # The closed model issues no requests during the stall: at most 2 iterations see it, so
    # its p95 stays at the service time while the open model's p95 shows the stall.
    with capsys.disabled():
        print(f"\n[open model] iteration_latency {', '.join(report)}; closed model "
              f"iteration_duration p95 {np.percentile(dur, 95):.1f} ms, max {dur.max():.0f} ms")
    assert np.percentile(dur, 95) < 0.2 * np.percentile(lat, 95)
    assert dur.max() >= STALL_LEN * 1000 * 0.8
