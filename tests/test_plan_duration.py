"""`--duration` alone keeps a file's designed scenarios, scaled to the new length (k6 would
replace them with one looping VU: conversation_stress then ran at 1,947 req/s, not ~200)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadgen import (
    ConstantArrivalRate,
    ConstantVUs,
    RampingArrivalRate,
    RampingVUs,
    Scenario,
    SharedIterations,
)
from loadgen.errors import ConfigError
from loadgen.execution.plan import Overrides, build_plan, describe
from loadgen.options import NS


def scenario(name: str, executor: Any) -> type[Scenario]:
    async def iteration(self: Any, vu: Any) -> None:
        return None

    return type(name, (Scenario,), {"executor": executor, "iteration": iteration})


def test_duration_alone_keeps_an_arrival_rate_and_its_rate() -> None:
    cls = scenario("Stress", ConstantArrivalRate(rate=118, duration="10m",
                                                 pre_allocated_vus=20, max_vus=400))
    notes: list[str] = []
    (spec,) = build_plan([cls], Overrides(duration="30s"), notes)
    ex = spec.executor
    assert isinstance(ex, ConstantArrivalRate)
    assert (ex.rate, ex.pre_allocated_vus, ex.max_vus) == (118, 20, 400)
    assert ex.duration_ns() == 30 * NS
    assert describe([spec])[1].endswith("118.00 iterations/s for 30s (maxVUs: 20-400, "
                                        "gracefulStop: 30s)")
    assert notes == ["--duration 30s: the scenarios keep their executors and rates, their "
                     "timeline scaled from 10m0s to 30s (x0.05)"]


def test_the_whole_timeline_is_scaled_stages_start_times_and_all() -> None:
    ramp = scenario("Ramp", RampingArrivalRate(start_rate=0, pre_allocated_vus=5, stages=[
        ("1m", 100), ("3m", 100), ("1m", 0)]))
    late = scenario("Late", ConstantVUs(vus=3, duration="1m", start_time="4m"))
    vus = scenario("Vus", RampingVUs(start_vus=0, stages=[("2m", 10), ("0s", 4), ("1m", 4)]))
    count = scenario("Count", SharedIterations(vus=2, iterations=10))
    specs = {s.name: s.executor for s in build_plan([ramp, late, vus, count],
                                                    Overrides(duration="50s"))}
    r, lt, v, c = specs["ramp"], specs["late"], specs["vus"], specs["count"]
    assert isinstance(r, RampingArrivalRate) and isinstance(v, RampingVUs)
    assert [(st.duration_ns // NS, st.target) for st in r.parsed_stages] == [
        (10, 100), (30, 100), (10, 0)]
    assert (lt.start_time_ns, lt.duration_ns()) == (40 * NS, 10 * NS)
    assert [(st.duration_ns, st.target) for st in v.parsed_stages] == [
        (20 * NS, 10), (0, 4), (10 * NS, 4)]
    assert isinstance(c, SharedIterations) and (c.iterations, c.vus) == (10, 2)
    assert c.duration_ns() == 50 * NS  # its iterations, capped at the new duration


def test_other_flags_still_replace_the_executor_as_k6_does() -> None:
    cls = scenario("Stress", ConstantArrivalRate(rate=118, duration="10m",
                                                 pre_allocated_vus=20))
    (spec,) = build_plan([cls], Overrides(duration="30s", vus=5))
    assert isinstance(spec.executor, ConstantVUs) and spec.executor.vus == 5
    plain = scenario("Plain", None)
    (spec,) = build_plan([plain], Overrides(duration="30s"))
    assert isinstance(spec.executor, ConstantVUs) and spec.executor.vus == 1


def test_the_cli_runs_the_design_shorter_and_says_so(tmp_path: Path) -> None:
    """The real CLI: a 20/s arrival rate designed for 10m, run with -d 1s, starts ~21
    iterations (one looping VU on a no-op iteration used to start tens of thousands)."""
    script = tmp_path / "designed.py"
    script.write_text(
        "from loadgen import ConstantArrivalRate, Scenario\n"
        "class Designed(Scenario):\n"
        "    executor = ConstantArrivalRate(rate=20, duration='10m', pre_allocated_vus=2)\n"
        "    async def iteration(self, vu):\n"
        "        pass\n")
    export = tmp_path / "export.json"
    p = subprocess.run([sys.executable, "-m", "loadgen", "run", str(script), "-d", "1s",
                        "--summary-export", str(export)],
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 0, p.stderr
    assert "20.00 iterations/s for 1s" in p.stderr
    assert "timeline scaled from 10m0s to 1s" in p.stderr
    iterations = json.loads(export.read_text())["metrics"]["iterations"]["count"]
    assert 19 <= iterations <= 22, iterations


def test_a_scenario_scaled_below_its_minimum_says_why() -> None:
    """A 2s scenario beside a 10m one, run for 30s, would last 100ms: refused, naming the
    scaling (k6's minimum for constant-vus is 1s)."""
    long = scenario("Long", ConstantVUs(vus=1, duration="10m"))
    short = scenario("Short", ConstantVUs(vus=1, duration="2s"))
    with pytest.raises(ConfigError) as e:
        build_plan([long, short], Overrides(duration="30s"))
    assert e.value.problems == [
        "scenario short has configuration errors (its timeline scaled to --duration): "
        "duration must be at least 1s, got '100ms'"]
