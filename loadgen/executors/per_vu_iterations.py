"""per-vu-iterations: each VU runs exactly `iterations` iterations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from loadgen.execution.segments import ExecutionTuple
from loadgen.executors.base import ExecContext, Executor, TaskSet
from loadgen.options import NS, format_duration, parse_duration


@dataclass(kw_only=True)
class PerVUIterations(Executor):
    type_name: ClassVar[str] = "per-vu-iterations"

    vus: int = 1
    iterations: int = 1
    max_duration: Any = "10m"

    def _validate(self) -> list[str]:
        p: list[str] = []
        self._int("vus", p, minimum=1)
        self._int("iterations", p, minimum=1)
        self._dur("max_duration", p, minimum_ns=NS)
        return p

    def duration_ns(self) -> int:
        return parse_duration(self.max_duration, what="max_duration")

    def peak_vus(self) -> int:
        return self.vus

    def _for_segment(self, tup: ExecutionTuple) -> Executor | None:
        """Only the VUs are split; each still runs all its iterations (as k6)."""
        vus = tup.scale(self.vus)
        return self._scaled(tup, vus=vus) if vus > 0 else None

    def describe(self) -> str:
        return (f"{self.iterations} iterations for each of {self.vus} VUs"
                + self.base_info(f"maxDuration: {format_duration(self.duration_ns())}"))

    async def run(self, ctx: ExecContext, start_ns: int) -> None:
        end_ns = start_ns + self.duration_ns()
        clock = ctx.clock
        left = [self.iterations] * self.vus

        async def loop(i: int, vu: Any) -> None:
            while left[i] > 0 and clock.now_ns() < end_ns:
                left[i] -= 1
                await ctx.iteration(vu)

        async with TaskSet(clock) as tasks:
            for i in range(self.vus):
                tasks.spawn(loop(i, ctx.new_vu()))
            ctx.active = ctx.allocated = self.vus
            await tasks.wait_until(end_ns)
            await tasks.finish(end_ns + self.graceful_stop_ns)
        ctx.active = 0
        for n in left:  # k6 emits one dropped_iterations sample per VU with work left
            if n > 0:
                ctx.dropped(n)
