"""Live progress: one line per scenario (elapsed/total, active VUs, iterations, rate, and
from the results: req/s over the last interval, failed %, p95 so far, its thresholds).

On a terminal, rich's live display redraws it in place every second; otherwise plain lines
are printed every `plain_every` seconds (--progress-interval), so CI logs stay readable on
long soaks, and not once every scenario is done (the final frame follows: it used to be
printed twice). Laid out by execution/display.py; written to stderr so stdout carries only
the summary.

A finished scenario shows how it really ended: ✓ [100%] only when it ran its whole schedule;
one whose iterations ran out first "ended at 12s" with its own percentage; one cut short by
a stop request is "aborted at 12s" (vu.abort(), abortOnFail) or "stopped at 12s" (Ctrl-C).
"""

from __future__ import annotations

from typing import Any, TextIO

from loadgen.errors import ExitCode
from loadgen.execution.display import Display, Figures, live_of, threshold_text
from loadgen.execution.engine import Engine
from loadgen.execution.frame import Frame, Row
from loadgen.execution.runtime import ScenarioRuntime
from loadgen.options import format_duration

TENTH_S = 100_000_000


def _shown(ns: int) -> str:
    """A running time to the tenth of a second ("9.9s", not "9.97004s")."""
    return format_duration(round(ns / TENTH_S) * TENTH_S)


class Progress:
    def __init__(self, stream: TextIO | None = None, *, plain_every: float = 10.0,
                 enabled: bool = True, watch: Any = None, live: Figures | None = None,
                 every: float | None = None, console: Any = None) -> None:
        """`live`: the per-scenario figures (results/live.py); `every`: seconds between
        frames (--progress-interval), else 1 s on a terminal and `plain_every` off one."""
        self.display = Display(stream, every=every, plain_every=plain_every, console=console)
        self.stream = self.display.stream
        self.tty = self.display.tty
        self.enabled = enabled
        self.live = live
        self._last_counts: dict[str, tuple[float, int]] = {}
        self._last_reqs: dict[str, tuple[float, int]] = {}
        self.watch = watch  # GeneratorWatch: its saturation is shown prominently

    def __call__(self, engine: Engine, final: bool) -> None:
        if not self.enabled:
            return
        elapsed = engine.elapsed_s()
        if not final:
            if not self.display.due(elapsed, final):
                return
            if not self.tty and engine.runtimes and all(
                    self._finishing(engine, rt) for rt in engine.runtimes):
                return  # nothing new to show: the final frame follows
            self.display.shown(elapsed)
        self.display.show(self.frame(engine, elapsed), final)

    def lines(self, engine: Engine, elapsed: float) -> list[str]:
        return self.frame(engine, elapsed).lines()

    def frame(self, engine: Engine, elapsed: float) -> Frame:
        rts = engine.runtimes
        active = sum(rt.active for rt in rts)
        allocated = sum(rt.allocated for rt in rts)
        done = sum(rt.completed for rt in rts)
        interrupted = sum(rt.interrupted for rt in rts)
        header = (f"running ({elapsed:05.1f}s), {active:02d}/{allocated:02d} VUs, {done} "
                  f"complete and {interrupted} interrupted iterations")
        if self.live is not None:
            text, _ = threshold_text(self.live.thresholds(None))
            header += f", {text}" if text else ""
        out = Frame(header)
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
            out.rows.append(Row(rt.name, mark, pct, f"{rt.active}/{rt.allocated} VUs",
                                f"{_shown(ran)}/{format_duration(total)}",
                                f"{rt.completed} iters  {rate:.2f} iters/s", extra,
                                live_of(self.live, rt.name, self._req_rate(
                                    rt.name, elapsed, rt.done, ran / 1e9))))
        w = self.watch
        if w is not None and w.saturation.intervals:
            out.footer.append(f"⚠ GENERATOR SATURATED (cpu {w.current_cpu:.0%}, loop lag "
                              f"{w.current_lag_ms:.1f} ms): {w.saturation.describe(last=3)}")
        return out

    def _req_rate(self, name: str, elapsed: float, done: bool, ran_s: float) -> float | None:
        """Requests per second since the last frame (a finished scenario: over its run)."""
        fig = self.live.of(name) if self.live is not None else None
        if fig is None:
            return None
        if done:
            return fig.requests / ran_s if ran_s > 0 else 0.0
        prev_t, prev_n = self._last_reqs.get(name, (0.0, 0))
        self._last_reqs[name] = (elapsed, fig.requests)
        return (fig.requests - prev_n) / (elapsed - prev_t) if elapsed > prev_t else 0.0

    @staticmethod
    def _finishing(engine: Engine, rt: ScenarioRuntime) -> bool:
        """Done, or at the very end of its schedule: from half a second before it (a tick
        that fires a hair early, or a schedule that ends between ticks: the final frame is
        moments away) to a second after it."""
        now = engine.clock.now_ns()
        return rt.done or (rt.end_ns is not None
                           and -500_000_000 <= now - rt.end_ns < 1_000_000_000)

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
