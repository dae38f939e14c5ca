"""A progress frame as a rich table: a bar per scenario, its figures in columns, a failing
threshold in red, the generator's saturation warning below. Only imported on a terminal."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from loadgen.execution.frame import Frame


def render(frame: Frame) -> RenderableType:
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    timed = any(r.pct is not None for r in frame.rows)
    cols = ["scenario"] + (["", "progress", "VUs", "time", "iterations"] if timed else []) + [
        "req/s", "failed", "p95", "thresholds", ""]
    for c in cols:
        table.add_column(c, no_wrap=True, justify="right" if c in ("req/s", "failed", "p95")
                         else "left")
    for r in frame.rows:
        live = r.live
        cells: list[RenderableType] = [Text(r.name, style="bold")]
        if timed:
            pct = r.pct or 0
            cells += [Text(r.mark, style="red" if r.mark == "✗" else "green"),
                      ProgressBar(total=100, completed=pct, width=20), r.vus, r.time, r.iters]
        cells += [live.rps.removesuffix(" req/s"), live.failed.removesuffix(" failed"),
                  live.p95.removeprefix("p95 "),
                  Text(live.thresholds.removeprefix("thresholds "),
                       style="green" if live.thresholds_ok else "bold red"),
                  Text(r.state.strip(), style="yellow")]
        table.add_row(*cells)
    parts: list[RenderableType] = [Text(frame.header)]
    if frame.rows:
        parts.append(table)
    parts += [Text(line, style="bold red") for line in frame.footer]
    return Group(*parts)
