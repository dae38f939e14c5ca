"""The fleet's live progress: one line with the workers' summed VUs and iterations (each
worker's own per-scenario lines would be N times the noise)."""

from __future__ import annotations

import sys
from typing import Any, Protocol, TextIO


class Counts(Protocol):
    workers: list[Any]

    def vu_counts(self) -> tuple[int, int]: ...
    def iterations(self) -> tuple[int, int]: ...


class FleetProgress:
    def __init__(self, fleet: Counts, stream: TextIO | None = None, *,
                 plain_every: float = 10.0, enabled: bool = True) -> None:
        self.fleet = fleet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.plain_every = plain_every
        self.enabled = enabled
        self._last_plain = 0.0

    def __call__(self, engine: Any, final: bool) -> None:
        if not self.enabled:
            return
        elapsed = engine.elapsed_s()
        if not self.tty and not final:
            if elapsed < self._last_plain + self.plain_every - 0.5:
                return
            self._last_plain = round(elapsed / self.plain_every) * self.plain_every
        self.stream.write(self.line(elapsed) + ("\n" if final or not self.tty else "\r"))
        self.stream.flush()

    def line(self, elapsed: float) -> str:
        active, allocated = self.fleet.vu_counts()
        done, interrupted = self.fleet.iterations()
        running = sum(1 for w in self.fleet.workers if w.running)
        return (f"running ({elapsed:05.1f}s), {active:02d}/{allocated:02d} VUs, {done} complete "
                f"and {interrupted} interrupted iterations, {running}/"
                f"{len(self.fleet.workers)} workers running")
