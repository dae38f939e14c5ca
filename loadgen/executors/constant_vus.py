"""constant-vus: N VUs loop over the iteration for a fixed duration (closed model)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from loadgen.execution.segments import ExecutionTuple
from loadgen.executors.base import ExecContext, Executor, TaskSet
from loadgen.options import NS, format_duration, parse_duration


@dataclass(kw_only=True)
class ConstantVUs(Executor):
    type_name: ClassVar[str] = "constant-vus"

    vus: int = 1
    duration: Any = None

    def _validate(self) -> list[str]:
        p: list[str] = []
        self._int("vus", p, minimum=1)
        self._dur("duration", p, required=True, minimum_ns=NS)
        return p

    def duration_ns(self) -> int:
        return parse_duration(self.duration, what="duration")

    def peak_vus(self) -> int:
        return self.vus

    def _for_segment(self, tup: ExecutionTuple) -> Executor | None:
        vus = tup.scale(self.vus)
        return self._scaled(tup, vus=vus) if vus > 0 else None

    def describe(self) -> str:
        return (f"{self.vus} looping VUs for {format_duration(self.duration_ns())}"
                + self.base_info())

    async def run(self, ctx: ExecContext, start_ns: int) -> None:
        end_ns = start_ns + self.duration_ns()
        clock = ctx.clock

        async def loop(vu: Any) -> None:
            while clock.now_ns() < end_ns:
                await ctx.iteration(vu)

        async with TaskSet(clock) as tasks:
            for _ in range(self.vus):
                tasks.spawn(loop(ctx.new_vu()))
            ctx.active = ctx.allocated = self.vus
            await tasks.wait_until(end_ns)
            await tasks.finish(end_ns + self.graceful_stop_ns)
        ctx.active = 0
