"""From scenario classes and flags to executors (pure: no run)."""

from __future__ import annotations

import pytest

from loadgen import ConstantArrivalRate, ConstantVUs, Scenario, Stress
from loadgen.errors import ConfigError
from loadgen.execution.plan import Overrides, build_plan
from loadgen.executors import RampingArrivalRate, RampingVUs, SharedIterations
from loadgen.options import Stage


class A(Scenario):
    executor = ConstantVUs(vus=3, duration="10s")


class B(Scenario):
    weight = 3.0


class Held(Scenario):
    weight = 0
    executor = ConstantVUs(vus=7, duration="10s")


class Ramp(Stress):
    start_rate, step_rate, max_rate, step_duration = 10, 10, 30, "1s"


def by_name(specs):
    return {s.name: s.executor for s in specs}


def test_rps_is_split_by_weight_and_spares_weight_zero_and_test_types():
    ex = by_name(build_plan([A, B, Held, Ramp], Overrides(rps=100, duration="5s")))
    assert isinstance(ex["a"], ConstantArrivalRate) and ex["a"].rate == 25
    assert ex["b"].rate == 75
    assert ex["held"] == ConstantVUs(vus=7, duration="10s")
    assert isinstance(ex["ramp"], RampingArrivalRate)  # scaled by --rps/--duration, its shape


def test_shortcuts_replace_executors_as_k6_does():
    ex = by_name(build_plan([A], Overrides(vus=2, iterations=10)))
    assert ex["a"] == SharedIterations(vus=2, iterations=10, max_duration="10m")
    ex = by_name(build_plan([A], Overrides(stages=[Stage("1s", 5)])))
    assert isinstance(ex["a"], RampingVUs) and ex["a"].start_vus == 1


def test_test_types_refuse_stage_and_iterations():
    with pytest.raises(ConfigError, match="stress test with its own load shape"):
        build_plan([Ramp], Overrides(iterations=5))


def test_scenario_names_must_be_unique_and_selectable():
    class a(Scenario):  # noqa: N801 - same snake name as A on purpose
        pass

    with pytest.raises(ConfigError) as e:
        build_plan([A, a], Overrides(scenarios=["a", "zzz"]))
    text = str(e.value)
    assert "two scenarios are named 'a'" in text and "unknown scenario(s) zzz" in text
