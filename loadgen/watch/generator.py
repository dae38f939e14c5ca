"""Watching the generator itself: a saturated generator lies, so say so.

A ticker wakes every 50 ms and measures how late each wake is (the loop's lateness: what
every request's timing suffers too). A point sample once a second missed stalls between
samples (200 ms of blocking work each second) and a loop blocked for seconds (the sample
simply came late); the lateness of every tick catches both. Once a second the window is
judged: its mean lateness (a backlog), its worst lateness (a stall) and this process's CPU
share. The generator is hot in a window when CPU >= 90% of a core, the mean lateness >=
10 ms or the worst >= 100 ms; after 3 hot seconds in a row (a window the loop blocked counts
for every second it lasted) it is saturated: its seconds are kept as intervals for the
summary ("results unreliable: generator saturated at ..."), and the `loadgen_saturated` rate
(one sample per second) lets a threshold gate it: `loadgen_saturated: ["rate==0"]`.
`loadgen_loop_lag` is each window's worst lateness.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from loadgen.clock import Clock, RealClock
from loadgen.metrics.model import Contains, MetricType, TagSet
from loadgen.metrics.registry import Recorder, Registry

CPU_LIMIT = 0.90
LAG_LIMIT_MS = 10.0  # mean tick lateness over a window: a backlog
STALL_LIMIT_MS = 100.0  # worst tick lateness in a window: the loop stalled
SUSTAIN_S = 3
TICK_S = 0.05


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


class LagWindow:
    """The lateness of every tick in one window (pure: the ticker feeds it times)."""

    def __init__(self, start_ns: int) -> None:
        self.start_ns = start_ns
        self.ticks = 0
        self.total_ms = 0.0
        self.worst_ms = 0.0

    def tick(self, due_ns: int, woke_ns: int) -> None:
        late = max(woke_ns - due_ns, 0) / 1e6
        self.ticks += 1
        self.total_ms += late
        self.worst_ms = max(self.worst_ms, late)

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.ticks if self.ticks else 0.0

    def span_s(self, now_ns: int) -> float:
        return (now_ns - self.start_ns) / 1e9


class GeneratorWatch:
    def __init__(self, registry: Registry, recorder: Recorder, tags: TagSet,
                 *, cpu_limit: float = CPU_LIMIT, lag_limit_ms: float = LAG_LIMIT_MS,
                 stall_limit_ms: float = STALL_LIMIT_MS, sustain_s: int = SUSTAIN_S) -> None:
        self.recorder = recorder
        self.tags = tags
        self.m_lag = registry.define("loadgen_loop_lag", MetricType.TREND, Contains.TIME)
        self.m_cpu = registry.define("loadgen_cpu", MetricType.GAUGE)
        self.m_sat = registry.define("loadgen_saturated", MetricType.RATE)
        self.cpu_limit = cpu_limit
        self.lag_limit_ms = lag_limit_ms
        self.stall_limit_ms = stall_limit_ms
        self.sustain_s = sustain_s
        self.saturation = Saturation()
        self.current_lag_ms = 0.0
        self.current_cpu = 0.0
        #: over the whole run: who was slow, the generator or the target (report.py)
        self.worst_lag_ms = 0.0
        self.peak_cpu = 0.0
        self.windows = 0
        self._hot = 0  # consecutive hot seconds
        self._hot_since = 0.0

    def observe(self, now_wall: float, cpu: float, lag_ms: float, t_ns: int, *,
                worst_ms: float | None = None, span_s: float = 1.0) -> bool:
        """Record one window's figures; return True while the generator is saturated.

        `lag_ms` is the window's mean tick lateness, `worst_ms` its worst (default: the
        mean), `span_s` its length: longer than a second when the loop was blocked, and
        then it counts as hot for every second it lasted."""
        worst = lag_ms if worst_ms is None else max(worst_ms, lag_ms)
        self.current_cpu, self.current_lag_ms = cpu, worst
        self.worst_lag_ms = max(self.worst_lag_ms, worst)
        self.peak_cpu = max(self.peak_cpu, cpu)
        self.windows += 1
        self.recorder.sample(self.m_cpu, cpu, self.tags, t_ns)
        self.recorder.sample(self.m_lag, worst, self.tags, t_ns)
        hot = (cpu >= self.cpu_limit or lag_ms >= self.lag_limit_ms
               or worst >= self.stall_limit_ms)
        seconds = max(1, round(span_s))
        if hot and self._hot == 0:
            self._hot_since = now_wall - span_s
        self._hot = self._hot + seconds if hot else 0
        saturated = self._hot >= self.sustain_s
        n_sat = min(seconds, self._hot - self.sustain_s + 1) if saturated else 0
        if saturated:
            self.saturation.seconds += n_sat
            iv = self.saturation.intervals
            if iv and iv[-1][1] >= self._hot_since - 1e-6:
                iv[-1] = (iv[-1][0], now_wall)
            else:
                iv.append((self._hot_since, now_wall))
        for i in range(seconds):  # one sample per second, so the rate is a share of time
            self.recorder.sample(self.m_sat, 1.0 if i < n_sat else 0.0, self.tags, t_ns)
        return saturated

    async def run(self, period_s: float = 1.0, tick_s: float = TICK_S,
                  clock: Clock | None = None,
                  cpu_time: Callable[[], float] = time.process_time) -> None:
        """Tick every `tick_s`, judge every `period_s`, forever (the engine cancels it).

        A late tick does not try to catch up (the next is due `tick_s` after it woke), so a
        blocked loop shows as one very late tick, not a burst of punctual ones."""
        clock = clock or RealClock()
        now = clock.now_ns()
        window = LagWindow(now)
        last_cpu, last_ns = cpu_time(), now
        due = now + round(tick_s * 1e9)
        while True:
            await clock.sleep_until(due)
            woke = clock.now_ns()
            window.tick(due, woke)
            due = max(due, woke) + round(tick_s * 1e9)
            if window.span_s(woke) < period_s:
                continue
            cpu_now = cpu_time()
            cpu = (cpu_now - last_cpu) / max((woke - last_ns) / 1e9, 1e-9)
            last_cpu, last_ns = cpu_now, woke
            self.observe(time.time(), cpu, window.mean_ms, woke, worst_ms=window.worst_ms,
                         span_s=window.span_s(woke))
            window = LagWindow(woke)
