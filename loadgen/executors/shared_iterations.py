"""shared-iterations: a fixed pool of iterations shared by all VUs; fast VUs do more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from loadgen.execution.segments import ExecutionTuple
from loadgen.executors.base import ExecContext, Executor, TaskSet
from loadgen.options import NS, format_duration, parse_duration


@dataclass(kw_only=True)
class SharedIterations(Executor):
    type_name: ClassVar[str] = "shared-iterations"

    vus: int = 1
    iterations: int = 1
    max_duration: Any = "10m"

    def _validate(self) -> list[str]:
        p: list[str] = []
        vus = self._int("vus", p, minimum=1)
        iters = self._int("iterations", p, minimum=1)
        self._dur("max_duration", p, minimum_ns=NS)
        if vus and iters and iters < vus:
            p.append(f"the number of iterations ({iters}) can't be less than the number of "
                     f"VUs ({vus})")
        return p

    def duration_ns(self) -> int:
        return parse_duration(self.max_duration, what="max_duration")

    def peak_vus(self) -> int:
        return self.vus

    def _for_segment(self, tup: ExecutionTuple) -> Executor | None:
        """VUs striped; iterations split as the VUs were (k6: 20 on 5 VUs in thirds is
        8/8/4), and numbered test-wide along that same split."""
        vus = tup.scale(self.vus)
        by_vus = tup.for_value(self.vus)
        if vus == 0 or by_vus is None:
            return None
        iterations = by_vus.scale(self.iterations)
        if iterations == 0:
            return None
        return self._scaled(tup, by_vus, vus=vus, iterations=iterations)

    def describe(self) -> str:
        return (f"{self.iterations} iterations shared among {self.vus} VUs"
                + self.base_info(f"maxDuration: {format_duration(self.duration_ns())}"))

    async def run(self, ctx: ExecContext, start_ns: int) -> None:
        end_ns = start_ns + self.duration_ns()
        clock = ctx.clock
        remaining = [self.iterations]

        async def loop(vu: Any) -> None:
            while remaining[0] > 0 and clock.now_ns() < end_ns:
                remaining[0] -= 1
                await ctx.iteration(vu)

        async with TaskSet(clock) as tasks:
            for _ in range(self.vus):
                tasks.spawn(loop(ctx.new_vu()))
            ctx.active = ctx.allocated = self.vus
            await tasks.wait_until(end_ns)
            await tasks.finish(end_ns + self.graceful_stop_ns)
        ctx.active = 0
        if remaining[0] > 0:
            ctx.dropped(remaining[0])
