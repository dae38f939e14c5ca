"""Watching the generator itself: a saturated generator lies, so say so.

Every second: the event loop's lag (how long a callback waits in the ready queue - what
every request's timing suffers too) and this process's CPU share. When either stays high
(CPU >= 90% of a core, or loop lag >= 10 ms, for 3 s in a row) the generator is saturated:
its seconds are kept as intervals for the summary ("results unreliable: generator saturated
at ..."), and the `loadgen_saturated` rate (one sample per second) lets a threshold gate it:
`loadgen_saturated: ["rate==0"]`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from loadgen.metrics.model import Contains, MetricType, TagSet
from loadgen.metrics.registry import Recorder, Registry

CPU_LIMIT = 0.90
LAG_LIMIT_MS = 10.0
SUSTAIN_S = 3


@dataclass
class Saturation:
    """Wall-clock intervals (unix seconds) during which the generator was saturated."""

    intervals: list[tuple[float, float]] = field(default_factory=list)
    seconds: int = 0

    def describe(self, last: int | None = None) -> str:
        """Every span (the summary), or only the `last` few (the live progress line, drawn
        every second: its cost must not grow with the number of spans so far)."""
        shown = self.intervals if last is None else self.intervals[-last:]
        spans = ", ".join(
            f"{time.strftime('%H:%M:%S', time.localtime(a))}-"
            f"{time.strftime('%H:%M:%S', time.localtime(b))}" for a, b in shown)
        earlier = len(self.intervals) - len(shown)
        more = f" (and {earlier} earlier)" if earlier else ""
        return f"results unreliable: generator saturated at {spans}{more}"


class GeneratorWatch:
    def __init__(self, registry: Registry, recorder: Recorder, tags: TagSet,
                 *, cpu_limit: float = CPU_LIMIT, lag_limit_ms: float = LAG_LIMIT_MS,
                 sustain_s: int = SUSTAIN_S) -> None:
        self.recorder = recorder
        self.tags = tags
        self.m_lag = registry.define("loadgen_loop_lag", MetricType.TREND, Contains.TIME)
        self.m_cpu = registry.define("loadgen_cpu", MetricType.GAUGE)
        self.m_sat = registry.define("loadgen_saturated", MetricType.RATE)
        self.cpu_limit = cpu_limit
        self.lag_limit_ms = lag_limit_ms
        self.sustain_s = sustain_s
        self.saturation = Saturation()
        self.current_lag_ms = 0.0
        self.current_cpu = 0.0
        self._hot = 0  # consecutive hot seconds
        self._hot_since = 0.0

    async def lag_ms(self) -> float:
        """Time a callback queued now waits before it runs (the loop's backlog)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int] = loop.create_future()
        t0 = time.perf_counter_ns()
        def wake() -> None:
            if not fut.done():
                fut.set_result(time.perf_counter_ns())

        loop.call_soon(wake)
        return (await fut - t0) / 1e6

    def observe(self, now_wall: float, cpu: float, lag_ms: float, t_ns: int) -> bool:
        """Record one second's figures; return True while the generator is saturated."""
        self.current_cpu, self.current_lag_ms = cpu, lag_ms
        self.recorder.sample(self.m_cpu, cpu, self.tags, t_ns)
        self.recorder.sample(self.m_lag, lag_ms, self.tags, t_ns)
        hot = cpu >= self.cpu_limit or lag_ms >= self.lag_limit_ms
        self._hot = self._hot + 1 if hot else 0
        if self._hot == 1:
            self._hot_since = now_wall - 1
        saturated = self._hot >= self.sustain_s
        if saturated:
            self.saturation.seconds += 1
            iv = self.saturation.intervals
            if iv and iv[-1][1] >= self._hot_since - 1e-6:
                iv[-1] = (iv[-1][0], now_wall)
            else:
                iv.append((self._hot_since, now_wall))
        self.recorder.sample(self.m_sat, 1.0 if saturated else 0.0, self.tags, t_ns)
        return saturated

    async def run(self, period_s: float = 1.0) -> None:
        """Sample forever (the engine cancels it at the end)."""
        last_cpu, last_wall = time.process_time(), time.monotonic()
        while True:
            await asyncio.sleep(period_s)
            lag = await self.lag_ms()
            cpu_now, wall_now = time.process_time(), time.monotonic()
            cpu = (cpu_now - last_cpu) / max(wall_now - last_wall, 1e-9)
            last_cpu, last_wall = cpu_now, wall_now
            self.observe(time.time(), cpu, lag, time.perf_counter_ns())
