"""Where a progress frame goes: `rich`'s live display on a terminal (redrawn in place every
second), plain lines every `every` seconds otherwise (10 s by default: a CI log of a soak
stays readable), and the final frame exactly once either way.

A frame is data (execution/frame.py: a header, one row per scenario, footer warnings), built
by the single-process progress (execution/progress.py) and the fleet's (fleet/progress.py); this
module only lays it out, so both look the same. The live figures a row carries (req/s,
failed share, p95 so far, thresholds) come from a `Figures` provider the caller hands in
(results/live.py), read through the protocol below so this floor imports nothing above it.
"""

from __future__ import annotations

import atexit
import logging
import sys
from typing import Any, Protocol, TextIO

from loadgen.execution.frame import Frame, Live


class ThresholdView(Protocol):
    passing: int
    total: int
    failing: list[str]


class ScenarioView(Protocol):
    requests: int

    @property
    def error_pct(self) -> float | None: ...

    @property
    def p95_ms(self) -> float | None: ...


class Figures(Protocol):
    """What results/live.py's LiveFigures offers the progress."""

    def of(self, scenario: str) -> ScenarioView | None: ...

    def thresholds(self, scenario: str | None) -> ThresholdView: ...

    def rate(self, scenario: str, since_s: float, until_s: float) -> float | None: ...


def fmt_ms(ms: float) -> str:
    return f"{ms / 1000:.2f}s" if ms >= 1000 else f"{ms:.2f}ms"


def live_of(figures: Figures | None, scenario: str, rps: float | None) -> Live:
    """req/s (over the last interval), failed %, p95 so far, the scenario's thresholds."""
    out = Live()
    if figures is None:
        return out
    fig = figures.of(scenario)
    if fig is not None and fig.requests:
        out.rps = f"{rps:.1f} req/s" if rps is not None else ""
        err = fig.error_pct
        out.failed = f"{err:.2f}% failed" if err is not None else ""
        p95 = fig.p95_ms
        out.p95 = f"p95 {fmt_ms(p95)}" if p95 is not None else ""
    out.thresholds, out.thresholds_ok = threshold_text(figures.thresholds(scenario))
    return out


def threshold_text(t: ThresholdView) -> tuple[str, bool]:
    if not t.total:
        return "", True
    if not t.failing:
        return f"thresholds ✓ {t.passing}/{t.total}", True
    return f"thresholds ✗ {t.passing}/{t.total} ({', '.join(t.failing[:2])}" + (
        ", ...)" if len(t.failing) > 2 else ")"), False


class Display:
    def __init__(self, stream: TextIO | None = None, *, every: float | None = None,
                 plain_every: float = 10.0, console: Any = None) -> None:
        """`console`: a rich Console to draw on (tests); else rich on `stream` when it is
        a terminal. `every`: seconds between frames (--progress-interval; default 1 on a
        terminal, else `plain_every`)."""
        self.stream = stream or (console.file if console is not None else sys.stderr)
        self.console = console
        self.tty = console is not None or self.stream.isatty()
        self.every = every if every is not None else (1.0 if self.tty else plain_every)
        self._last = 0.0
        self._live: Any = None
        self._handlers: list[tuple[logging.StreamHandler[Any], Any]] = []

    def due(self, elapsed: float, final: bool) -> bool:
        """On a grid (10 s, 20 s, ...) with half a tick of slack: 29.99 s is the 30 s frame."""
        if final:
            return True
        return elapsed >= self._last + self.every - min(0.5, self.every / 2)

    def shown(self, elapsed: float) -> None:
        self._last = round(elapsed / self.every) * self.every

    def show(self, frame: Frame, final: bool) -> None:
        if self.tty:
            self._rich(frame, final)
            return
        self.stream.write("\n".join(frame.lines()) + "\n" + ("\n" if frame.rows else ""))
        self.stream.flush()

    def _rich(self, frame: Frame, final: bool) -> None:
        from rich.console import Console
        from rich.live import Live as RichLive

        from loadgen.execution.rich_frame import render

        if self._live is None:
            console = self.console or Console(file=self.stream, force_terminal=True)
            self._live = RichLive(console=console, auto_refresh=False, transient=False,
                                  redirect_stdout=False, redirect_stderr=False)
            self._live.start()
            # rich hides the cursor until stop(): a second Ctrl-C exits at once (os._exit,
            # no stop, no atexit) and would leave the user's terminal without one
            console.show_cursor(True)
            self._route_logs(console)
            atexit.register(self.close)  # an error that skips the final frame: cursor back
        self._live.update(render(frame), refresh=not final)
        if final:
            self.close()  # stop() draws the last update: the final frame, once

    def _route_logs(self, console: Any) -> None:
        """Log lines written to our stream while the table is up go above it (through the
        console), not into the middle of the next redraw."""
        from rich.file_proxy import FileProxy

        self._handlers = [(h, h.stream) for h in logging.getLogger().handlers
                          if isinstance(h, logging.StreamHandler) and h.stream is self.stream]
        for h, stream in self._handlers:
            h.setStream(FileProxy(console, stream))

    def close(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()
        for h, stream in self._handlers:
            h.setStream(stream)
        self._handlers = []
