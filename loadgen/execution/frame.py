"""One progress frame as data: a header line, one row per scenario, footer warnings; laid
out as plain lines here, as a rich table by execution/rich_frame.py."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Live:
    """A scenario's live figures, formatted."""

    rps: str = ""
    failed: str = ""
    p95: str = ""
    thresholds: str = ""
    thresholds_ok: bool = True

    def text(self) -> str:
        parts = [p for p in (self.rps, self.failed, self.p95, self.thresholds) if p]
        return "  ".join(parts)


@dataclass
class Row:
    name: str
    mark: str = " "
    pct: int | None = None
    vus: str = ""
    time: str = ""
    iters: str = ""
    state: str = ""  # how it ended, dropped iterations: last on the plain line
    live: Live = field(default_factory=Live)

    def text(self, width: int) -> str:
        head = f"{self.name:<{width}}"
        if self.pct is not None:
            head += f" {self.mark} [{self.pct:3d}%] {self.vus}  {self.time}  {self.iters}"
        live = self.live.text()
        return head + (f"  {live}" if live else "") + self.state


@dataclass
class Frame:
    header: str
    rows: list[Row] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        width = max((len(r.name) for r in self.rows), default=0)
        return [self.header, *(r.text(width) for r in self.rows), *self.footer]
