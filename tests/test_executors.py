"""Executors against the fake clock: exact start times and counts, no real sleeps."""

from __future__ import annotations

from fakes import Harness

from loadgen import (
    ConstantArrivalRate,
    ConstantVUs,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    Scenario,
    SharedIterations,
)
from loadgen.executors.ramping_vus import vu_steps
from loadgen.options import Stage

MS = 1_000_000


def make(body_seconds: float = 0.0, record: list[int] | None = None):
    class S(Scenario):
        name = "s"

        async def iteration(self, vu):
            if record is not None:
                record.append(vu.rt.clock.now_ns())
            if body_seconds:
                await vu.sleep(body_seconds)

    return S


async def test_constant_arrival_rate_starts_exactly_on_schedule():
    starts: list[int] = []
    h = Harness()
    await h.run((make(0.01, starts), ConstantArrivalRate(rate=4, duration="1s",
                                                        pre_allocated_vus=2)))
    t0 = h.engine.exec_start_ns
    assert [(t - t0) // MS for t in starts] == [0, 250, 500, 750]
    assert h.count("iterations") == 4
    lags = [v for _, v, _ in h.samples("iteration_lag")]
    assert lags == [0.0] * 4
    assert [v for _, v, _ in h.samples("iteration_latency")] == [10.0] * 4


async def test_ramping_arrival_rate_follows_the_integral_rule():
    starts: list[int] = []
    h = Harness()
    await h.run((make(0.0, starts), RampingArrivalRate(
        start_rate=4, stages=[Stage("1s", 4), Stage("1s", 0)], pre_allocated_vus=2)))
    t0 = h.engine.exec_start_ns
    got = [round((t - t0) / MS, 3) for t in starts]
    assert got == [250.0, 500.0, 750.0, 1000.0, 1292.893, 2000.0]


async def test_arrival_rate_drops_when_no_vu_is_free_and_measures_from_intended_start():
    # 10/s, each iteration 0.25 s, only 1 VU: one in every 3 slots can start... exactly:
    starts: list[int] = []
    h = Harness()
    await h.run((make(0.25, starts), ConstantArrivalRate(rate=10, duration="1s",
                                                         pre_allocated_vus=1, max_vus=1)))
    t0 = h.engine.exec_start_ns
    assert [(t - t0) // MS for t in starts] == [0, 300, 600, 900]
    assert h.count("dropped_iterations") == 6
    assert h.count("iterations") == 4


async def test_shared_iterations_counts_and_drops_at_max_duration():
    h = Harness()
    await h.run((make(0.3), SharedIterations(vus=1, iterations=50, max_duration="1s",
                                             graceful_stop="0s")))
    # k6's dropped.js: 3 completed, 1 interrupted, 46 dropped
    assert h.count("iterations") == 3
    assert h.count("dropped_iterations") == 46
    rt = h.engine.runtimes[0]
    assert (rt.completed, rt.interrupted) == (3, 1)


async def test_per_vu_iterations_runs_exactly_n_per_vu():
    seen: list[int] = []

    class S(Scenario):
        async def iteration(self, vu):
            seen.append(vu.id)
            await vu.sleep(0.01 * vu.id)

    h = Harness()
    await h.run((S, PerVUIterations(vus=3, iterations=4)))
    assert sorted(seen.count(i) for i in set(seen)) == [4, 4, 4]
    assert h.count("iterations") == 12


async def test_constant_vus_graceful_stop_interrupts_long_iterations():
    h = Harness()
    await h.run((make(0.4), ConstantVUs(vus=2, duration="1s", graceful_stop="0s")))
    rt = h.engine.runtimes[0]
    # each VU: iterations at 0, .4, .8 -> the one started at .8 is interrupted at 1.0
    assert rt.completed == 4
    assert rt.interrupted == 2
    assert h.count("iterations") == 4


async def test_constant_vus_graceful_stop_lets_iterations_finish():
    h = Harness()
    await h.run((make(0.4), ConstantVUs(vus=2, duration="1s", graceful_stop="1s")))
    rt = h.engine.runtimes[0]
    assert (rt.completed, rt.interrupted) == (6, 0)


def test_ramping_vu_steps_match_k6():
    steps = vu_steps(0, [Stage("1s", 3), Stage("1s", 0)])
    assert steps == [(0, 0), (333333334, 1), (666666667, 2), (1000000000, 3),
                     (1333333334, 2), (1666666667, 1), (2000000000, 0)]
    assert vu_steps(2, [Stage("10s", 2)]) == [(0, 2)]
    assert vu_steps(1, [Stage("0s", 5)]) == [(0, 1), (0, 5)]


async def test_ramping_vus_runs_the_planned_number_of_vus():
    active_at: dict[int, set[int]] = {}

    class S(Scenario):
        async def iteration(self, vu):
            tenth = vu.rt.clock.now_ns() // (100 * MS)
            active_at.setdefault(tenth, set()).add(vu.id)
            await vu.sleep(0.1)

    h = Harness()
    await h.run((S, RampingVUs(start_vus=0, stages=[Stage("1s", 3), Stage("1s", 0)],
                               graceful_ramp_down="0s")))
    t0 = h.engine.exec_start_ns // (100 * MS)
    by_tenth = {k - t0: len(v) for k, v in active_at.items()}
    assert 0 not in by_tenth  # start_vus=0: nobody runs before 1/3 s
    assert by_tenth[4] == 1 and by_tenth[7] == 2 and by_tenth[10] == 3
    assert by_tenth[14] == 2 and by_tenth[17] == 1
    assert max(by_tenth) <= 19


async def test_start_time_delays_a_scenario():
    starts: list[int] = []
    h = Harness()
    await h.run((make(0.0, starts), PerVUIterations(vus=1, iterations=1, start_time="2s")))
    assert (starts[0] - h.engine.exec_start_ns) == 2_000_000_000


async def test_iteration_exception_counts_as_completed_iteration():
    class Boom(Scenario):
        async def iteration(self, vu):
            raise RuntimeError("boom")

    h = Harness()
    out = await h.run((Boom, PerVUIterations(vus=1, iterations=3)))
    assert out.exit_code == 0
    assert h.count("iterations") == 3
    assert h.engine.runtimes[0].failed == 3


async def test_http_samples_carry_k6_tags_and_checks_groups():
    class S(Scenario):
        async def iteration(self, vu):
            async with vu.group("front"):
                r = await vu.http.get("/x", name="X")
                vu.check(r, {"is 200": lambda r: r.status == 200, "is 404": lambda r: False})

    h = Harness()
    await h.run((S, PerVUIterations(vus=1, iterations=2)))
    (_, dur, tags), _ = h.samples("http_req_duration")
    assert dur == 10.0
    assert tags == {"expected_response": "true", "group": "::front", "method": "GET",
                    "name": "X", "proto": "HTTP/1.1", "scenario": "s", "status": "200",
                    "url": "X"}
    checks = h.samples("checks")
    assert [(v, t["check"], t["group"]) for _, v, t in checks] == [
        (1.0, "is 200", "::front"), (0.0, "is 404", "::front")] * 2
    assert len(h.samples("group_duration")) == 2


async def test_arrival_rate_graceful_stop_interrupts_only_the_iterations_still_running():
    # 4/s for 1 s, each iteration 0.6 s, graceful stop 0.5 s: the starts at 0 and .25 end by
    # 1.5 s; those at .5 and .75 would end at 1.1 and 1.35 (in time); nothing is interrupted.
    # With 1.2 s iterations, the ends are 1.2, 1.45, 1.7, 1.95: the last two are interrupted.
    for body, done, cut in ((0.6, 4, 0), (1.2, 2, 2)):
        h = Harness()
        await h.run((make(body), ConstantArrivalRate(rate=4, duration="1s", pre_allocated_vus=4,
                                                     graceful_stop="0.5s")))
        rt = h.engine.runtimes[0]
        assert (rt.completed, rt.interrupted) == (done, cut), body
        assert rt.active == 0


async def test_arrival_rate_reuses_an_idle_vu_before_making_one():
    # each iteration takes 0.1 s, starts every 0.25 s: one VU serves them all
    seen: list[int] = []

    class S(Scenario):
        name = "s"

        async def iteration(self, vu):
            seen.append(vu.id)
            await vu.sleep(0.1)

    h = Harness()
    await h.run((S, ConstantArrivalRate(rate=4, duration="2s", pre_allocated_vus=0,
                                        max_vus=5)))
    assert len(seen) == 8 and len(set(seen)) == 1
    assert h.engine.runtimes[0].allocated == 1


async def test_an_error_escaping_the_iteration_runner_fails_the_executor():
    import pytest

    from loadgen.execution.runtime import ScenarioRuntime

    h = Harness()
    original = ScenarioRuntime.iteration

    async def broken(self, vu, intended_ns=None, index=None):
        if index == 2:
            raise RuntimeError("a bug in the runner")
        await original(self, vu, intended_ns, index)

    ScenarioRuntime.iteration = broken  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError, match="a bug in the runner"):
            await h.run((make(0.01), ConstantArrivalRate(rate=4, duration="1s",
                                                         pre_allocated_vus=2)))
    finally:
        ScenarioRuntime.iteration = original  # type: ignore[method-assign]
