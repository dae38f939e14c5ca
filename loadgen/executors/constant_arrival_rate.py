"""constant-arrival-rate: iteration k starts at k * time_unit / rate (open model)."""

from __future__ import annotations

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
from loadgen.options import NS, format_duration, parse_duration


def constant_offsets(rate: float, time_unit_ns: int) -> Iterator[int]:
    """Offsets (ns) of iteration starts: 0, tu/rate, 2*tu/rate, ... (exact, no drift)."""
    k = 0
    exact = float(rate).is_integer()
    while True:
        yield k * time_unit_ns // int(rate) if exact else round(k * time_unit_ns / rate)
        k += 1


@dataclass(kw_only=True)
class ConstantArrivalRate(Executor):
    type_name: ClassVar[str] = "constant-arrival-rate"

    rate: float | None = None
    duration: Any = None
    pre_allocated_vus: int | None = None
    max_vus: int | None = None
    time_unit: Any = "1s"
    vu_share: float = field(default=1.0, init=False, repr=False, compare=False)

    def _validate(self) -> list[str]:
        p: list[str] = []
        if self.rate is None:
            p.append("rate is required (iterations per time_unit)")
        elif isinstance(self.rate, bool) or not isinstance(self.rate, int | float) \
                or self.rate <= 0:
            p.append(f"rate must be a number greater than 0, got {self.rate!r}")
        self._dur("duration", p, required=True, minimum_ns=NS)
        self._dur("time_unit", p, minimum_ns=1)
        validate_pool(self, p)
        return p

    @property
    def time_unit_ns(self) -> int:
        return parse_duration(self.time_unit, what="time_unit")

    def duration_ns(self) -> int:
        return parse_duration(self.duration, what="duration")

    def peak_vus(self) -> int:
        return max(int(self.max_vus or 0), int(self.pre_allocated_vus or 0))

    def _for_segment(self, tup: ExecutionTuple) -> Executor | None:
        share = arrival_share(self, tup)
        if isinstance(share, ConstantArrivalRate):  # k6's banner rate: by the share of max VUs
            share.vu_share = tup.scale(self.peak_vus()) / self.peak_vus()
        return share

    def describe(self) -> str:
        per_s = float(self.rate or 0) * NS / self.time_unit_ns * self.vu_share
        pre = int(self.pre_allocated_vus or 0)
        return (f"{per_s:.2f} iterations/s for {format_duration(self.duration_ns())}"
                + self.base_info(pool_info(pre, self.peak_vus())))

    async def run(self, ctx: ExecContext, start_ns: int) -> None:
        await run_arrivals(
            ctx, start_ns, striped(constant_offsets(float(self.rate or 0), self.time_unit_ns),
                                   self.iteration_tuple),
            start_ns + self.duration_ns(), int(self.pre_allocated_vus or 0), self.peak_vus(),
            self.graceful_stop_ns)
