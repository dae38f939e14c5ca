"""A test type's run state lives in the plan its shape() returns, never on the class: two runs
of one class in one process (the CLI tests, a long-lived tool) must not see each other's
numbers, and a verdict must judge the run it is handed."""

from __future__ import annotations

import dataclasses

import pytest

from loadgen import Baseline, ConstantVUs, Shape, Spike, Stress
from loadgen.errors import ConfigError
from loadgen.execution.plan import Overrides, build_plan
from loadgen.metrics.timeseries import TimeSeries
from loadgen.testtypes import SpikePlan, SteadyPlan, StressPlan
from loadgen.testtypes.maths import Bucket
from loadgen.testtypes.view import RunView


class Surge(Spike):
    warm, ramp_up, hold, ramp_down, recover = "2s", "1s", "2s", "1s", "4s"  # 10 s in all
    base_vus, spike_vus = 2, 10


class Ramp(Stress):
    start_rate, step_rate, max_rate, step_duration = 10, 10, 50, "2s"


class Steady(Baseline):
    warmup = "5s"


def _view(plan: object, elapsed_s: float, series: list[Bucket] | None = None) -> RunView:
    view = RunView(TimeSeries(), "s", 0.0, elapsed_s, None, True, elapsed_s, plan=plan)
    if series is not None:
        view.series = lambda latency="http_req_duration": series  # type: ignore[method-assign]
    return view


def _no_run_state(cls: type) -> bool:
    return not any(k.startswith("_run") for k in vars(cls))


def test_two_spike_shapes_of_one_class_keep_their_own_plans():
    first = Surge.shape(Overrides())
    second = Surge.shape(Overrides(duration="20s", vus=4))
    assert isinstance(first, Shape) and isinstance(first.plan, SpikePlan)
    assert first.plan.scale == 1.0 and first.plan.spike_end_s == 6.0
    assert second.plan.scale == 2.0 and second.plan.spike_end_s == 12.0
    assert Surge.shape(Overrides()).plan == first.plan  # the second run changed nothing
    assert _no_run_state(Surge)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.plan.scale = 3.0  # type: ignore[misc]
    # each verdict reads the plan of its own run
    v1 = Surge.verdict(_view(first.plan, 10.0))
    v2 = Surge.verdict(_view(second.plan, 20.0))
    assert v1.figures["spike_end_s"] == 6.0 and v2.figures["spike_end_s"] == 12.0
    # a view without a plan (a unit test's) is judged on the class's own numbers
    assert Surge.verdict(_view(None, 10.0)).figures["spike_end_s"] == 6.0


def test_two_stress_shapes_of_one_class_keep_their_own_plans():
    first = Ramp.shape(Overrides())
    second = Ramp.shape(Overrides(rps=30, duration="30s"))
    assert first.plan == StressPlan((10.0, 20.0, 30.0, 40.0, 50.0), 2_000_000_000)
    assert second.plan == StressPlan((10.0, 20.0, 30.0), 10_000_000_000)
    assert Ramp.shape(Overrides()).plan == first.plan
    assert _no_run_state(Ramp)
    # 30 s of run: five 2 s steps measured in the first run, three 10 s steps in the second
    v1 = Ramp.verdict(_view(first.plan, 30.0))
    v2 = Ramp.verdict(_view(second.plan, 30.0))
    assert [c["rate"] for c in v1.figures["curve"]] == [10, 20, 30, 40, 50]
    assert [c["rate"] for c in v2.figures["curve"]] == [10, 20, 30]


def test_a_baseline_verdict_leaves_out_its_own_plans_warm_up():
    shape = Steady.shape(Overrides(duration="40s"))
    assert isinstance(shape.executor, ConstantVUs) and shape.plan == SteadyPlan(5.0)
    # 40 one-second intervals: 5 s of slow warm-up (5 s p95), then 10 ms
    series: list[Bucket] = [(t, t + 1.0, 5000.0 if t < 5 else 10.0, 0.0, 100)
                            for t in map(float, range(40))]
    assert Steady.verdict(_view(shape.plan, 40.0, series)).ok is True
    cold = dataclasses.replace(shape.plan, warmup_s=0.0)  # another run's plan, no warm-up
    assert Steady.verdict(_view(cold, 40.0, series)).ok is False
    assert Steady.verdict(_view(shape.plan, 40.0, series)).ok is True


def test_the_plan_travels_in_the_scenario_spec():
    (spec,) = build_plan([Surge], Overrides(duration="20s"))
    assert spec.plan == Surge.plan_for(Overrides(duration="20s"))
    (spec,) = build_plan([Ramp], Overrides())
    assert spec.plan == Ramp.plan_for(None)


def test_a_shape_that_is_not_a_shape_is_a_config_problem():
    class Bare(Baseline):
        @classmethod
        def shape(cls, o: object) -> Shape:
            return ConstantVUs(vus=1, duration="1s")  # type: ignore[return-value]

    with pytest.raises(ConfigError, match=r"shape\(\) must return Shape"):
        build_plan([Bare], Overrides())
