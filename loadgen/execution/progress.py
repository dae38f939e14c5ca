"""Live progress: one line per scenario (elapsed/total, active VUs, iterations, rate).

On a TTY the block is redrawn in place every second; otherwise plain lines are printed
every `plain_every` seconds, so CI logs stay readable on long soaks, and not once every
scenario is done (the final frame follows: it used to be printed twice). Written to stderr
so stdout carries only the summary.

A finished scenario shows how it really ended: ✓ [100%] only when it ran its whole schedule;
one whose iterations ran out first "ended at 12s" with its own percentage; one cut short by
a stop request is "aborted at 12s" (vu.abort(), abortOnFail) or "stopped at 12s" (Ctrl-C).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from loadgen.errors import ExitCode
from loadgen.execution.engine import Engine
from loadgen.execution.runtime import ScenarioRuntime
from loadgen.options import format_duration

TENTH_S = 100_000_000


def _shown(ns: int) -> str:
    """A running time to the tenth of a second ("9.9s", not "9.97004s")."""
    return format_duration(round(ns / TENTH_S) * TENTH_S)


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
        if not self.tty and not final:
            # on a grid (10 s, 20 s, ...) with half a tick of slack: 29.99 s is the 30 s frame
            if elapsed < self._last_plain + self.plain_every - 0.5:
                return
            if engine.runtimes and all(self._finishing(engine, rt) for rt in engine.runtimes):
                return  # nothing new to show: the final frame follows
            self._last_plain = round(elapsed / self.plain_every) * self.plain_every
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
            # end_ns is set when the start is known (a start_after scenario: once it starts)
            start = rt.end_ns - total if rt.end_ns is not None else engine.clock.now_ns()
            now = rt.ended_ns if rt.done and rt.ended_ns is not None else engine.clock.now_ns()
            ran = max(0, min(now - start, total))  # runtimes exist once executors started
            state = self.end_state(engine, rt, ran, total)
            pct = 100 if rt.done and not state else int(100 * ran / total) if total else 0
            prev_t, prev_n = self._last_counts.get(rt.name, (0.0, 0))
            if rt.done:  # finished: the average over its whole run
                prev_t, prev_n = 0.0, 0
                elapsed_rt = max(ran / 1e9, 1e-9)
                rate = rt.completed / elapsed_rt
            else:
                rate = (rt.completed - prev_n) / (elapsed - prev_t) if elapsed > prev_t else 0.0
            self._last_counts[rt.name] = (elapsed, rt.completed)
            cut = state.startswith(("aborted", "stopped"))
            mark = "✗" if cut else "✓" if rt.done else " "
            extra = f" {rt.dropped_count} dropped" if rt.dropped_count else ""
            extra += f"  {state}" if state else ""
            out.append(f"{rt.name:<{width}} {mark} [{pct:3d}%] {rt.active}/{rt.allocated} VUs  "
                       f"{_shown(ran)}/{format_duration(total)}  "
                       f"{rt.completed} iters  {rate:.2f} iters/s{extra}")
        w = self.watch
        if w is not None and w.saturation.intervals:
            out.append(f"⚠ GENERATOR SATURATED (cpu {w.current_cpu:.0%}, loop lag "
                       f"{w.current_lag_ms:.1f} ms): {w.saturation.describe(last=3)}")
        return out

    @staticmethod
    def _finishing(engine: Engine, rt: ScenarioRuntime) -> bool:
        """Done, or at the very end of its schedule (within the last second)."""
        now = engine.clock.now_ns()
        return rt.done or (rt.end_ns is not None and 0 <= now - rt.end_ns < 1_000_000_000)

    @staticmethod
    def end_state(engine: Engine, rt: ScenarioRuntime, ran: int, total: int) -> str:
        """"" for a scenario still running or that ran its whole schedule; else how it
        ended: cut by a stop request (aborted / stopped) or out of iterations early."""
        if not rt.done or rt.ended_ns is None:
            return ""
        at = _shown(ran)
        code = engine.stop_code
        if code is not None and engine.stopped_ns is not None \
                and rt.ended_ns >= engine.stopped_ns and ran < total:
            kind = "stopped" if code == ExitCode.EXTERNAL_ABORT else "aborted"
            return f"{kind} before its start" if ran == 0 else f"{kind} at {at}"
        if ran < total:
            return f"ended at {at}"
        return ""
