"""Every executor split by execution segments, on the fake clock: the instances together
start exactly the iterations of the unsplit test, at the same times, with VU ids and
iteration numbers that never collide across instances."""

from __future__ import annotations

import random
from collections import Counter
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
from loadgen.execution.segments import FULL_TUPLE, ExecutionTuple, Segment, parse_sequence
from loadgen.executors import Executor
from loadgen.options import Stage

MS = 1_000_000


def recording(body_s: float, seen: list[tuple[int, int, int]]) -> type[Scenario]:
    class S(Scenario):
        name = "s"

        async def iteration(self, vu):
            seen.append((vu.rt.clock.now_ns(), vu.id_in_test, vu.iteration_in_test))
            await vu.sleep(body_s)

    return S


async def run_share(executor: Executor, tup: ExecutionTuple,
                    body_s: float) -> list[tuple[int, int, int]]:
    """(start ms from the executors' T0, vu id in test, iteration in test) of one instance."""
    seen: list[tuple[int, int, int]] = []
    ex = executor.for_segment(tup)
    if ex is None:
        return seen
    h = Harness()
    h.run_ctx.segment = tup
    await h.run((recording(body_s, seen), ex))
    assert h.engine is not None
    t0 = h.engine.exec_start_ns
    return [((t - t0) // MS, vu, it) for t, vu, it in seen]


EXECUTORS: list[tuple[str, Executor, float]] = [
    ("constant-vus", ConstantVUs(vus=5, duration="1s"), 0.1),
    ("ramping-vus", RampingVUs(start_vus=1, stages=[Stage("1s", 7), Stage("1s", 2)],
                               graceful_ramp_down="0s"), 0.1),
    ("per-vu-iterations", PerVUIterations(vus=5, iterations=3), 0.1),
    ("shared-iterations", SharedIterations(vus=5, iterations=20), 0.1),
    ("constant-arrival-rate", ConstantArrivalRate(rate=30, duration="1s",
                                                  pre_allocated_vus=5), 0.01),
    ("ramping-arrival-rate", RampingArrivalRate(
        start_rate=4, stages=[Stage("1s", 20), Stage("1s", 0)], pre_allocated_vus=7), 0.01),
]


async def check_union(executor: Executor, seq: list[Segment], body_s: float) -> None:
    whole = await run_share(executor, FULL_TUPLE, body_s)
    parts = [await run_share(executor, ExecutionTuple.of(s, seq), body_s) for s in seq]
    union = [r for p in parts for r in p]
    assert Counter(t for t, _, _ in union) == Counter(t for t, _, _ in whole)
    its = [it for _, _, it in union]
    assert len(set(its)) == len(its)  # test-wide iteration numbers never collide
    if isinstance(executor, SharedIterations | ConstantArrivalRate | RampingArrivalRate):
        assert sorted(its) == list(range(len(whole)))  # ... and are exactly the unsplit ones
    vus = [{vu for _, vu, _ in p} for p in parts]
    assert sum(len(v) for v in vus) == len(set().union(*vus))  # VU ids disjoint


@pytest.mark.parametrize(("name", "executor", "body_s"), EXECUTORS, ids=[e[0] for e in EXECUTORS])
async def test_three_segments_are_the_unsplit_test(name, executor, body_s):
    await check_union(executor, parse_sequence("0,1/3,2/3,1"), body_s)


async def test_arrival_starts_interleave_and_sum_to_the_rate():
    """1000/s over thirds: exactly 1000 starts per second in all, each instance starting
    its striped subset of the one schedule (not 333.33/s each, drifting apart)."""
    ex = ConstantArrivalRate(rate=1000, duration="1s", pre_allocated_vus=30)
    seq = parse_sequence("0,1/3,2/3,1")
    parts = [await run_share(ex, ExecutionTuple.of(s, seq), 0.0) for s in seq]
    assert [len(p) for p in parts] == [334, 333, 333]
    assert [sorted(it for _, _, it in p)[:3] for p in parts] == [[0, 3, 6], [1, 4, 7],
                                                                 [2, 5, 8]]
    assert sorted(t for p in parts for t, _, _ in p) == [k for k in range(1000)]


async def test_property_random_sequences_split_every_executor_exactly():
    rng = random.Random(7)
    for _ in range(6):
        den = rng.choice([2, 3, 4, 5, 8])
        cuts = sorted(rng.sample(range(1, den), k=rng.randint(1, den - 1)))
        seq = parse_sequence(",".join(["0", *(f"{c}/{den}" for c in cuts), "1"]))
        _, executor, body_s = rng.choice(EXECUTORS)
        await check_union(executor, seq, body_s)


def test_plan_scales_and_the_banner_names_the_segment():
    class Car(Scenario):
        executor = ConstantArrivalRate(rate=30, duration="2s", pre_allocated_vus=5, max_vus=10)

        async def iteration(self, vu: Any) -> None: ...

    class One(Scenario):
        executor = ConstantVUs(vus=1, duration="2s")

        async def iteration(self, vu: Any) -> None: ...

    seq = parse_sequence("0,1/3,2/3,1")
    tup = ExecutionTuple.of(seq[2], seq)
    specs = build_plan([Car, One], Overrides(segment=tup))
    assert [s.name for s in specs] == ["car"]  # one VU: the last third has none of it
    lines = describe(specs, tup)
    assert lines[0] == "execution: segment 2/3:1 in 0,1/3,2/3,1"
    assert lines[1].startswith("scenarios: (33.33%) 1 scenario, 3 max VUs")
    assert "9.00 iterations/s for 2s (maxVUs: 1-3" in lines[2]  # k6: rate x 3/10 VUs
