"""loadgen's execution segments against the real k6 1.1.0: for every executor and each third
of a test, the same VUs, rates and iteration counts (k6 prints its scaled plan in the
banner; the iterations come from counters in its summary export). No network is used: the
iterations do nothing."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
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
from loadgen.execution.plan import Overrides, build_plan, describe
from loadgen.execution.segments import ExecutionTuple, resolve
from loadgen.options import Stage

SCRIPT = """
import { Counter } from 'k6/metrics';
import exec from 'k6/execution';
const si = new Counter('si_iters');
const pvi = new Counter('pvi_iters');
export const options = { scenarios: {
  si: { executor: 'shared-iterations', vus: 5, iterations: 20, exec: 'countSi' },
  pvi: { executor: 'per-vu-iterations', vus: 5, iterations: 3, exec: 'countPvi' },
  cv: { executor: 'constant-vus', vus: 7, duration: '1s' },
  car: { executor: 'constant-arrival-rate', rate: 30, duration: '1s', preAllocatedVUs: 4,
         maxVUs: 5, exec: 'logCar' },
  rar: { executor: 'ramping-arrival-rate', startRate: 4, preAllocatedVUs: 7,
         stages: [{ duration: '1s', target: 20 }] },
  rv: { executor: 'ramping-vus', startVUs: 1, stages: [{ duration: '1s', target: 8 }] },
}};
export function countSi() { si.add(1); console.log('SI ' + exec.scenario.iterationInTest); }
export function logCar() { console.log('CAR ' + exec.scenario.iterationInTest); }
export function countPvi() { pvi.add(1); }
export default function () {}
"""


def scenario(name: str, executor: Any) -> type[Scenario]:
    async def iteration(self: Any, vu: Any) -> None:
        return None

    return type(name, (Scenario,), {"name": name, "executor": executor,
                                    "iteration": iteration})


SAME = [scenario("si", SharedIterations(vus=5, iterations=20)),
        scenario("pvi", PerVUIterations(vus=5, iterations=3)),
        scenario("cv", ConstantVUs(vus=7, duration="1s")),
        scenario("car", ConstantArrivalRate(rate=30, duration="1s", pre_allocated_vus=4,
                                            max_vus=5)),
        scenario("rar", RampingArrivalRate(start_rate=4, stages=[Stage("1s", 20)],
                                           pre_allocated_vus=7)),
        scenario("rv", RampingVUs(start_vus=1, stages=[Stage("1s", 8)]))]
SEQUENCE = "0,1/3,2/3,1"
SEGMENTS = ["0:1/3", "1/3:2/3", "2/3:1"]


def k6_binary() -> str | None:
    cand = Path(sys.executable).parent / "k6"
    return str(cand) if cand.exists() else shutil.which("k6")


def plan_lines(text: str) -> list[str]:
    """The banner's plan: the `scenarios:` header and one line per scenario (without the
    `exec:` entry: loadgen has one iteration method per scenario)."""
    return [re.sub(r"\s+", " ", re.sub(r"exec: \w+, ", "", ln.strip()))
            for ln in text.splitlines() if re.match(r"\s*(scenarios: \(|\* \w+: )", ln)]


def logged(out: str, tag: str) -> set[int]:
    """The iterationInTest numbers k6 logged with console.log under `tag`."""
    return {int(m) for m in re.findall(rf'msg="{tag} (\d+)"', out)}


async def numbers_used(cls: type[Scenario], tup: ExecutionTuple) -> set[int]:
    """loadgen's vu.iteration_in_test values for one instance, on the fake clock."""
    seen: set[int] = set()

    class Probe(cls):  # type: ignore[valid-type,misc]
        async def iteration(self, vu: Any) -> None:
            seen.add(vu.iteration_in_test)

    ex = cls.executor.for_segment(tup)
    assert ex is not None
    h = Harness()
    h.run_ctx.segment = tup
    await h.run((Probe, ex))
    return seen


def test_each_third_matches_k6(tmp_path: Path) -> None:
    k6 = k6_binary()
    if k6 is None:
        pytest.skip("the k6 wheel (PyPI k6==1.1.0, in the dev extra) is not installed")
    script = tmp_path / "segments.js"
    script.write_text(SCRIPT)
    env = {**os.environ, "K6_NO_USAGE_REPORT": "true"}
    procs = [subprocess.Popen(  # the three instances at once, as they would be deployed
        [k6, "run", "--no-color", "--execution-segment", seg, "--execution-segment-sequence",
         SEQUENCE, "--summary-export", str(tmp_path / f"{i}.json"), str(script)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
        for i, seg in enumerate(SEGMENTS)]
    outs = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0, out
        outs.append(out)
    totals = {"si": 0, "pvi": 0}
    cars: list[set[int]] = []
    for i, seg in enumerate(SEGMENTS):
        tup = resolve(seg, SEQUENCE)
        specs = build_plan(SAME, Overrides(segment=tup))
        ours = [re.sub(r"\s+", " ", ln.strip()) for ln in describe(specs, tup)[1:]]
        assert ours == plan_lines(outs[i]), f"segment {seg}"
        metrics = json.loads((tmp_path / f"{i}.json").read_text())["metrics"]
        by_name = {s.name: s.executor for s in specs}
        si, pvi = by_name["si"], by_name["pvi"]
        assert isinstance(si, SharedIterations) and isinstance(pvi, PerVUIterations)
        assert metrics["si_iters"]["count"] == si.iterations
        assert metrics["pvi_iters"]["count"] == pvi.vus * pvi.iterations
        totals["si"] += si.iterations
        totals["pvi"] += pvi.vus * pvi.iterations
        # test-wide iteration numbers: the same stripes as k6 (shared-iterations by its VU
        # split; arrivals by the schedule, k6 may also race one start at the very end)
        assert asyncio.run(numbers_used(SAME[0], tup)) == logged(outs[i], "SI")
        car = asyncio.run(numbers_used(SAME[3], tup))
        assert car == {n for n in logged(outs[i], "CAR") if n < 30}
        cars.append(car)
    assert totals == {"si": 20, "pvi": 15}
    # 30 starts split along max VUs 5 (2/2/1 -> 12/12/6), together the whole schedule
    assert [len(c) for c in cars] == [12, 12, 6] and set().union(*cars) == set(range(30))
