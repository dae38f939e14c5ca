"""ramping-arrival-rate: the rate follows linear stages; the n-th iteration starts when the
integral of the rate curve reaches n (k6-compat.md §4.2), so the first start is at 1/rate."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from loadgen.execution.segments import ExecutionTuple
from loadgen.executors.arrivals import (
    arrival_share,
    pool_info,
    run_arrivals,
    striped,
    validate_pool,
)
from loadgen.executors.base import ExecContext, Executor
from loadgen.options import NS, Stage, format_duration, parse_duration, parse_stages


def ramping_offsets(start_rate: float, stages: list[Stage], time_unit_ns: int) -> Iterator[int]:
    """Offsets (ns) at which the integral of the piecewise-linear rate reaches 1, 2, 3, ...

    Within a stage of length D going from rate a to b (per time unit), the integral after t is
    (a*t + (b-a)*t^2/(2D)) / TU; we solve it for each whole number with the numerically stable
    form of the quadratic root, so no drift accumulates across thousands of iterations.
    """
    done = 0.0  # iterations' worth of integral before the current stage
    stage_start = 0
    a = float(start_rate)
    n = 1
    for st in stages:
        d = st.duration_ns
        b = float(st.target)
        if d == 0:
            a = b
            continue
        area = (a + b) / 2 * d / time_unit_ns  # iterations in this stage
        while n <= done + area + 1e-9:
            need = (n - done) * time_unit_ns  # integral target in rate*ns units
            slope = (b - a) / d
            disc = a * a + 2 * slope * need
            root = math.sqrt(max(disc, 0.0))
            denom = a + root
            t = 2 * need / denom if denom > 0 else float(d)
            yield stage_start + min(round(t), d)
            n += 1
        done += area
        stage_start += d
        a = b


@dataclass(kw_only=True)
class RampingArrivalRate(Executor):
    type_name: ClassVar[str] = "ramping-arrival-rate"

    stages: list[Any] = field(default_factory=list)
    start_rate: float = 0
    time_unit: Any = "1s"
    pre_allocated_vus: int | None = None
    max_vus: int | None = None

    def _validate(self) -> list[str]:
        p: list[str] = []
        if isinstance(self.start_rate, bool) or not isinstance(self.start_rate, int | float) or \
                self.start_rate < 0:
            p.append(f"start_rate must be a number >= 0, got {self.start_rate!r}")
        self._dur("time_unit", p, minimum_ns=1)
        if not self.stages:
            p.append("stages is required: at least one (duration, target)")
        parse_stages(self.stages, p, where="stages")
        validate_pool(self, p)
        return p

    @property
    def parsed_stages(self) -> list[Stage]:
        return parse_stages(self.stages, [], where="stages")

    @property
    def time_unit_ns(self) -> int:
        return parse_duration(self.time_unit, what="time_unit")

    def duration_ns(self) -> int:
        return sum(s.duration_ns for s in self.parsed_stages)

    def peak_vus(self) -> int:
        return max(int(self.max_vus or 0), int(self.pre_allocated_vus or 0))

    def _for_segment(self, tup: ExecutionTuple) -> Executor | None:
        return arrival_share(self, tup)

    def describe(self) -> str:
        top = max([float(self.start_rate)] + [float(s.target) for s in self.parsed_stages])
        share = float(self.segment.segment.length)  # k6: the length, not the striped share
        per_s = top * NS / self.time_unit_ns * share
        return (f"Up to {per_s:.2f} iterations/s for {format_duration(self.duration_ns())} over "
                f"{len(self.stages)} stages"
                + self.base_info(pool_info(int(self.pre_allocated_vus or 0), self.peak_vus())))

    async def run(self, ctx: ExecContext, start_ns: int) -> None:
        offsets = ramping_offsets(float(self.start_rate), self.parsed_stages, self.time_unit_ns)
        # The last start may land exactly on the end (k6 races it); it belongs to the run.
        await run_arrivals(ctx, start_ns, striped(offsets, self.iteration_tuple),
                           start_ns + self.duration_ns() + 1, int(self.pre_allocated_vus or 0),
                           self.peak_vus(),
                           self.graceful_stop_ns)
