"""`start_after`: a scenario starts when the one it names has ended (fake clock, no real
sleeps), and the plan refuses unknown names and cycles with exit 104."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes.py

from fakes import Harness  # noqa: E402

from loadgen import ConstantVUs, PerVUIterations, Scenario, SharedIterations  # noqa: E402
from loadgen.errors import ConfigError  # noqa: E402
from loadgen.execution.engine import Engine, Hooks  # noqa: E402
from loadgen.execution.ordering import planned_offsets  # noqa: E402
from loadgen.execution.plan import Overrides, build_plan, describe  # noqa: E402
from loadgen.execution.segments import resolve  # noqa: E402

S = 1_000_000_000


class Warmup(Scenario):
    executor = SharedIterations(vus=1, iterations=3, graceful_stop="10s")

    async def iteration(self, vu):
        await vu.http.get("/")


class Main(Scenario):
    start_after = "warmup"
    executor = ConstantVUs(vus=1, duration="1s", graceful_stop="5s")

    async def iteration(self, vu):
        await vu.http.get("/")


class Cooldown(Scenario):
    start_after = "main"
    executor = PerVUIterations(vus=1, iterations=1, start_time="2s")

    async def iteration(self, vu):
        await vu.http.get("/")


async def run(h: Harness, *classes: type[Scenario]) -> None:
    specs = build_plan(list(classes), Overrides(env={"BASE_URL": "http://127.0.0.1:9"}))
    h.engine = Engine(h.run_ctx, specs, Hooks(ingest=h.records.extend))
    await h.clock.run(h.engine.execute())


def times(h: Harness, scenario: str) -> list[int]:
    return sorted(t for t, _, tags in h.samples("http_reqs") if tags["scenario"] == scenario)


async def test_a_follower_starts_when_its_predecessor_ends_not_at_the_planned_worst_case():
    h = Harness(latency=lambda r: 0.1)
    await run(h, Warmup, Main, Cooldown)
    warm, main, cool = times(h, "warmup"), times(h, "main"), times(h, "cooldown")
    assert len(warm) == 3 and len(cool) == 1
    # warm-up: 3 iterations of 0.1 s, so it ends at 0.3 s (its 10 s graceful stop unused)
    assert max(warm) <= 0.3 * S + 1000
    # main's first response arrives 0.1 s after it starts, at the warm-up's end
    assert 0.4 * S - 1000 <= min(main) <= 0.4 * S + 1000
    # cooldown: main ends at 1.3 s (its last iteration 1.2-1.3 s), then start_time 2 s, + 0.1
    assert 3.4 * S - 1000 <= cool[0] <= 3.4 * S + 1000
    assert h.engine is not None
    spec = {s.name: s for s in h.engine.specs}
    assert spec["main"].offset_ns == pytest.approx(0.3 * S, abs=1000)  # the real offset


def test_the_plan_carries_the_worst_case_timeline_and_the_banner_shows_it():
    specs = build_plan([Cooldown, Main, Warmup], Overrides())
    by = {s.name: s for s in specs}
    assert by["main"].start_after == "warmup" and by["warmup"].start_after is None
    # warm-up's worst case: its 10 min max duration + 10 s graceful stop
    assert by["main"].offset_ns == (600 + 10) * S
    assert by["cooldown"].offset_ns == (610 + 1 + 5) * S
    lines = describe(specs)
    # cooldown starts by 10m16s + its 2 s start time, then 10 min max + 30 s graceful stop
    assert "20m48s max duration (incl. graceful stop)" in lines[0], lines[0]
    order = [ln.split("* ")[1].split(":")[0] for ln in lines[1:]]
    assert order == ["warmup", "main", "cooldown"]
    assert lines[2].endswith("after warmup ends (at the latest 10m10s)")
    assert lines[3].endswith("after main ends (at the latest 10m18s)")


def test_unknown_names_unselected_ones_and_cycles_are_104_all_at_once():
    class A(Scenario):
        start_after = "b"
        executor = PerVUIterations(vus=1, iterations=1)

    class B(Scenario):
        start_after = "a"
        executor = PerVUIterations(vus=1, iterations=1)

    class C(Scenario):
        start_after = "nosuch"
        executor = PerVUIterations(vus=1, iterations=1)

    class D(Scenario):
        start_after = "d"
        executor = PerVUIterations(vus=1, iterations=1)

    with pytest.raises(ConfigError) as e:
        build_plan([A, B, C, D], Overrides())
    msg = str(e.value)
    assert e.value.exit_code == 104
    assert "start_after makes a cycle: a starts after b, b starts after a" in msg
    assert "start_after makes a cycle: d starts after d" in msg
    assert "scenario c: start_after 'nosuch' names no scenario (scenarios: a, b, c, d)" in msg
    with pytest.raises(ConfigError, match="not in this run"):
        build_plan([Warmup, Main], Overrides(scenarios=["main"]))


def test_a_predecessor_with_no_work_in_this_segment_does_not_hold_its_follower():
    class Big(Scenario):
        executor = PerVUIterations(vus=1, iterations=1, max_duration="20s", graceful_stop="0s",
                                   start_time="3s")

    class After(Scenario):
        start_after = "big"
        executor = ConstantVUs(vus=4, duration="1s")

    # segment 1/2:1 of a 1-VU scenario gets no VU: `big` is skipped on this instance and
    # ends there as it starts (3 s), not at its planned worst case (23 s)
    specs = build_plan([Big, After], Overrides(segment=resolve("1/2:1", None)))
    assert [s.name for s in specs] == ["after"]
    assert specs[0].offset_ns == 3 * S
    whole = build_plan([Big, After], Overrides())
    assert whole[1].offset_ns == 23 * S


def test_planned_offsets_of_a_long_chain_need_no_recursion():
    n = 5000
    after = {f"s{i}": (f"s{i - 1}" if i else None) for i in range(n)}
    offsets = planned_offsets(after, {name: S for name in after})
    assert offsets[f"s{n - 1}"] == (n - 1) * S


def test_duration_alone_scales_a_chain_as_a_whole():
    class Ramp(Scenario):
        name = "ramp"
        executor = ConstantVUs(vus=1, duration="10s", graceful_stop="0s")

    class Hold(Scenario):
        name = "hold"
        start_after = "ramp"
        executor = ConstantVUs(vus=1, duration="30s")

    notes: list[str] = []
    specs = build_plan([Ramp, Hold], Overrides(duration="20s"), notes)
    by = {s.name: s for s in specs}
    # 10 s then 30 s is a 40 s design: halved, so the chain ends at 20 s, not 35 s
    assert by["ramp"].executor.duration_ns() == 5 * S
    assert by["hold"].executor.duration_ns() == 15 * S
    assert by["hold"].offset_ns == 5 * S
    assert "scaled from 40s to 20s" in notes[0]
