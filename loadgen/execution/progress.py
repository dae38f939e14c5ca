"""Live progress: one line per scenario (elapsed/total, active VUs, iterations, rate).

On a TTY the block is redrawn in place every second; otherwise plain lines are printed
every `plain_every` seconds, so CI logs stay readable on long soaks. Written to stderr so
stdout carries only the summary.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from loadgen.execution.engine import Engine
from loadgen.options import format_duration


class Progress:
    def __init__(self, stream: TextIO | None = None, *, plain_every: float = 10.0,
                 enabled: bool = True, watch: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.plain_every = plain_every
        self.enabled = enabled
        self._drawn = 0
        self._last_plain = 0.0
        self._last_counts: dict[str, tuple[float, int]] = {}
        self.watch = watch  # GeneratorWatch: its saturation is shown prominently

    def __call__(self, engine: Engine, final: bool) -> None:
        if not self.enabled:
            return
        elapsed = engine.elapsed_s()
        if not self.tty and not final and elapsed - self._last_plain < self.plain_every:
            return
        self._last_plain = elapsed
        lines = self.lines(engine, elapsed)
        if self.tty and self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
        self.stream.write("\n".join(lines) + "\n")
        if not self.tty:
            self.stream.write("\n")
        self.stream.flush()
        self._drawn = len(lines) if self.tty and not final else 0

    def lines(self, engine: Engine, elapsed: float) -> list[str]:
        rts = engine.runtimes
        active = sum(rt.active for rt in rts)
        allocated = sum(rt.allocated for rt in rts)
        done = sum(rt.completed for rt in rts)
        interrupted = sum(rt.interrupted for rt in rts)
        out = [f"running ({elapsed:05.1f}s), {active:02d}/{allocated:02d} VUs, {done} complete "
               f"and {interrupted} interrupted iterations"]
        width = max((len(rt.name) for rt in rts), default=0)
        for rt in rts:
            assert rt.executor is not None
            total = rt.executor.duration_ns()
            start = engine.exec_start_ns + rt.executor.start_time_ns
            ran = max(0, min(engine.clock.now_ns() - start, total)) if engine.exec_start_ns else 0
            pct = 100 if rt.done else int(100 * ran / total) if total else 0
            prev_t, prev_n = self._last_counts.get(rt.name, (0.0, 0))
            if rt.done:  # finished: the average over its whole run
                prev_t, prev_n = 0.0, 0
                elapsed_rt = max(ran / 1e9, 1e-9)
                rate = rt.completed / elapsed_rt
            else:
                rate = (rt.completed - prev_n) / (elapsed - prev_t) if elapsed > prev_t else 0.0
            self._last_counts[rt.name] = (elapsed, rt.completed)
            mark = "✓" if rt.done else " "
            extra = f" {rt.dropped_count} dropped" if rt.dropped_count else ""
            out.append(f"{rt.name:<{width}} {mark} [{pct:3d}%] {rt.active}/{rt.allocated} VUs  "
                       f"{format_duration(ran)}/{format_duration(total)}  "
                       f"{rt.completed} iters  {rate:.2f} iters/s{extra}")
        w = self.watch
        if w is not None and w.saturation.intervals:
            out.append(f"⚠ GENERATOR SATURATED (cpu {w.current_cpu:.0%}, loop lag "
                       f"{w.current_lag_ms:.1f} ms): {w.saturation.describe(last=3)}")
        return out
