"""ramping-vus: the number of looping VUs follows linear stages, k6's step rule exactly.

VUs above the planned count stop starting iterations and get `graceful_ramp_down` to finish
the one they are in before they are interrupted; if the count rises again first, they simply
carry on (k6 reuses them too).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, ClassVar

from loadgen.execution.segments import ExecutionTuple
from loadgen.executors.base import ExecContext, Executor, TaskSet
from loadgen.options import Stage, format_duration, parse_duration, parse_stages


def vu_steps(start_vus: int, stages: list[Stage]) -> list[tuple[int, int]]:
    """(offset_ns, planned VUs) whenever the planned count changes (k6's raw execution steps).

    Ramping up, VU v starts when the line reaches v; ramping down, a VU stops when the line
    reaches the next integer below it (k6 lib/executor/ramping_vus.go).
    """
    steps = [(0, start_vus)]

    def add(t: int, n: int) -> None:
        if steps[-1][1] != n:
            steps.append((t, n))

    t_end = 0
    frm = start_vus
    for st in stages:
        to = int(st.target)
        dur = st.duration_ns
        t_end += dur
        diff = to - frm
        if diff == 0:
            continue
        if dur == 0:
            add(t_end, to)
        elif diff < 0:
            for cur in range(frm, to, -1):
                add(t_end - dur * (to - cur + 1) // diff, cur - 1)
        else:
            for cur in range(frm + 1, to + 1):
                add(t_end - dur * (to - cur) // diff, cur)
        frm = to
    return steps


@dataclass(kw_only=True)
class RampingVUs(Executor):
    type_name: ClassVar[str] = "ramping-vus"

    stages: list[Any] = field(default_factory=list)
    start_vus: int = 1
    graceful_ramp_down: Any = "30s"

    def _validate(self) -> list[str]:
        p: list[str] = []
        self._int("start_vus", p, minimum=0)
        self._dur("graceful_ramp_down", p)
        if not self.stages:
            p.append("stages is required: at least one (duration, target)")
        stages = parse_stages(self.stages, p, where="stages")
        if stages and max([self.start_vus or 0] + [int(s.target) for s in stages]) <= 0:
            p.append("either start_vus or one of the stages' target values must be greater than 0")
        return p

    @property
    def parsed_stages(self) -> list[Stage]:
        return parse_stages(self.stages, [], where="stages")

    def duration_ns(self) -> int:
        return sum(s.duration_ns for s in self.parsed_stages)

    def peak_vus(self) -> int:
        return self.segment.scale(self._global_peak())

    def _for_segment(self, tup: ExecutionTuple) -> Executor | None:
        """The stages stay unscaled: run() follows the whole test's VU line and keeps the
        VUs whose test-wide index this segment owns, so each starts and stops exactly when
        it would in the unsplit test."""
        if tup.scale(self._global_peak()) == 0:
            return None
        return self._scaled(tup)

    def _global_peak(self) -> int:
        return max([self.start_vus] + [int(s.target) for s in self.parsed_stages])

    def local_steps(self) -> list[tuple[int, int]]:
        """(offset_ns, this instance's planned VUs) whenever that count changes."""
        out: list[tuple[int, int]] = []
        for t, n in vu_steps(self.start_vus, self.parsed_stages):
            local = self.segment.scale(n)
            if not out or out[-1][1] != local:
                out.append((t, local))
        return out

    def describe(self) -> str:
        grd = format_duration(parse_duration(self.graceful_ramp_down))
        return (f"Up to {self.peak_vus()} looping VUs for {format_duration(self.duration_ns())} "
                f"over {len(self.stages)} stages" + self.base_info(f"gracefulRampDown: {grd}"))

    async def run(self, ctx: ExecContext, start_ns: int) -> None:
        clock = ctx.clock
        end_ns = start_ns + self.duration_ns()
        ramp_down_ns = parse_duration(self.graceful_ramp_down)
        vus: list[Any] = []
        loops: dict[int, asyncio.Task[Any]] = {}
        stop = [False] * self.peak_vus()
        stop_seq = [0] * self.peak_vus()

        async def loop(i: int) -> None:
            try:
                while not stop[i] and clock.now_ns() < end_ns:
                    await ctx.iteration(vus[i])
            finally:
                loops.pop(i, None)
                ctx.active -= 1

        async def interrupt_later(i: int, seq: int, at_ns: int) -> None:
            await clock.sleep_until(at_ns)
            task = loops.get(i)
            if stop[i] and stop_seq[i] == seq and task is not None:
                task.cancel()

        async with TaskSet(clock) as tasks, TaskSet(clock) as timers:
            for offset, planned in self.local_steps():
                t = start_ns + offset
                if t >= end_ns:
                    break
                await clock.sleep_until(t)
                while len(vus) < planned:
                    vus.append(ctx.new_vu())
                    ctx.allocated = len(vus)
                for i in range(planned):
                    stop[i] = False
                    if i not in loops:
                        ctx.active += 1
                        loops[i] = tasks.spawn(loop(i))
                for i in range(planned, len(vus)):
                    if i in loops and not stop[i]:
                        stop[i] = True
                        stop_seq[i] += 1
                        timers.spawn(interrupt_later(i, stop_seq[i], t + ramp_down_ns))
            await clock.sleep_until(end_ns)
            await tasks.finish(end_ns + self.graceful_stop_ns)
            await timers.interrupt()
