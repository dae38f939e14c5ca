"""The fleet's live progress: one line with the workers' summed VUs and iterations (each
worker's own per-scenario lines would be N times the noise), then per scenario the merged
live figures (req/s, failed %, p95 so far, its thresholds), laid out as a single run's
(execution/display.py: rich on a terminal, plain lines otherwise). req/s is over the
last interval's whole seconds that every worker has sent, counted by sample time: the
workers' intervals arrive a second late and together, so counting what arrived between
two frames swung between half and double the real rate."""

from __future__ import annotations

from typing import Any, Protocol, TextIO

from loadgen.execution.display import Display, Figures, live_of, threshold_text
from loadgen.execution.frame import Frame, Row


class Counts(Protocol):
    workers: list[Any]

    def vu_counts(self) -> tuple[int, int]: ...
    def iterations(self) -> tuple[int, int]: ...


class FleetProgress:
    def __init__(self, fleet: Counts, stream: TextIO | None = None, *,
                 plain_every: float = 10.0, enabled: bool = True,
                 live: Figures | None = None, scenarios: list[str] | None = None,
                 every: float | None = None, console: Any = None) -> None:
        self.fleet = fleet
        self.display = Display(stream, every=every, plain_every=plain_every, console=console)
        self.enabled = enabled
        self.live = live
        self.scenarios = list(scenarios or ())
        self._last_reqs: dict[str, tuple[float, int]] = {}

    def __call__(self, engine: Any, final: bool) -> None:
        if not self.enabled:
            return
        elapsed = engine.elapsed_s()
        if not final:
            if not self.display.due(elapsed, final):
                return
            self.display.shown(elapsed)
        self.display.show(self.frame(elapsed, final), final)

    def frame(self, elapsed: float, final: bool = False) -> Frame:
        out = Frame(self.line(elapsed))
        if self.live is None:
            return out
        text, _ = threshold_text(self.live.thresholds(None))
        out.header += f", {text}" if text else ""
        for name in self.scenarios:
            out.rows.append(Row(name, live=live_of(self.live, name,
                                                          self._rate(name, elapsed, final))))
        return out

    def _rate(self, name: str, elapsed: float, final: bool) -> float | None:
        """Requests per second since the last frame; the final frame: over the whole run
        (the workers' last intervals arrive together at the end)."""
        fig = self.live.of(name) if self.live is not None else None
        if fig is None:
            return None
        if final:
            return fig.requests / elapsed if elapsed > 0 else 0.0
        until = float(int(elapsed)) - 1.0  # the last whole second every worker has sent
        window = max(1.0, float(round(self.display.every)))
        if self.live is not None and until - window >= 0:
            got = self.live.rate(name, until - window, until)
            if got is not None:
                return got
        prev_t, prev_n = self._last_reqs.get(name, (0.0, 0))
        self._last_reqs[name] = (elapsed, fig.requests)
        return (fig.requests - prev_n) / (elapsed - prev_t) if elapsed > prev_t else 0.0

    def line(self, elapsed: float) -> str:
        active, allocated = self.fleet.vu_counts()
        done, interrupted = self.fleet.iterations()
        running = sum(1 for w in self.fleet.workers if w.running)
        return (f"running ({elapsed:05.1f}s), {active:02d}/{allocated:02d} VUs, {done} complete "
                f"and {interrupted} interrupted iterations, {running}/"
                f"{len(self.fleet.workers)} workers running")
