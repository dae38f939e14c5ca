"""The generator watch on a fake clock: the lateness of every tick catches a loop blocked
for seconds and a stall that recurs between once-a-second samples."""

from __future__ import annotations

import asyncio

from loadgen.clock import FakeClock
from loadgen.metrics.model import SAMPLE, tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.watch.generator import GeneratorWatch, LagWindow


class BlockingClock(FakeClock):
    """A fake clock on which work can block the loop: time jumps with no timer firing,
    as it does for real while a callback runs without yielding."""

    def block(self, seconds: float) -> None:
        self._now += round(seconds * 1e9)


async def watch_while(body, seconds: int) -> tuple[GeneratorWatch, Recorder]:
    """Run the watch (fake clock, fake CPU time) beside `body(clock, cpu)` for a while."""
    clock = BlockingClock()
    cpu = [0.0]
    rec = Recorder()
    w = GeneratorWatch(Registry(), rec, tagset())

    async def main() -> None:
        task = asyncio.ensure_future(w.run(clock=clock, cpu_time=lambda: cpu[0]))
        await body(clock, cpu)
        await clock.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    await clock.run(main())
    return w, rec


def saturated_samples(rec: Recorder) -> list[float]:
    return [r[3] for r in rec.records if r[0] == SAMPLE and r[2].name == "loadgen_saturated"]


async def test_a_loop_blocked_for_2_9_s_is_saturated_even_though_sampled_once():
    async def body(clock: BlockingClock, cpu: list[float]) -> None:
        await clock.sleep(0.5)
        clock.block(2.9)  # one iteration burning the loop
        cpu[0] += 2.9

    w, rec = await watch_while(body, 2)
    assert w.worst_lag_ms >= 2800
    assert w.saturation.intervals, "a 2.9 s freeze must flag saturation"
    assert 1.0 in saturated_samples(rec)


async def test_200_ms_of_blocking_each_second_is_caught_between_samples():
    async def body(clock: BlockingClock, cpu: list[float]) -> None:
        for _ in range(6):
            await clock.sleep(0.8)
            clock.block(0.2)
            cpu[0] += 0.2  # 20% of a core: CPU alone would never tell

    w, _ = await watch_while(body, 0)
    assert 150 <= w.worst_lag_ms <= 200
    assert w.peak_cpu < 0.5
    assert w.saturation.seconds >= 2


async def test_a_calm_loop_is_not_flagged():
    async def body(clock: BlockingClock, cpu: list[float]) -> None:
        for _ in range(40):
            await clock.sleep(0.1)
            clock.block(0.002)  # 2 ms callbacks: ordinary work
            cpu[0] += 0.002

    w, rec = await watch_while(body, 1)
    assert w.windows >= 4 and not w.saturation.intervals
    assert w.worst_lag_ms <= 2
    assert set(saturated_samples(rec)) == {0.0}


def test_lag_window_keeps_mean_and_worst():
    win = LagWindow(0)
    for due, woke in ((50, 51), (100, 100), (150, 350)):
        win.tick(due * 1_000_000, woke * 1_000_000)
    assert (win.ticks, win.worst_ms, round(win.mean_ms, 3)) == (3, 200.0, 67.0)
    assert win.span_s(1_000_000_000) == 1.0
