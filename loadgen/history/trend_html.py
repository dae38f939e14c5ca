"""`loadgen trend --html FILE`: one self-contained page with the run report's charts (the same
plotly.js, inlined gzipped and unpacked by the browser: no request, opens from a CI artifact
offline), one chart per metric of each label: the values run by run, the window average
they were judged against (dotted) and a red mark on each run judged worse.

A metric's latency percentiles share a chart (same unit); its rate and error rate get their
own. Every label is escaped: endpoint names and labels come from scenario files and the
history file (HTML text through `esc`, chart text through the charts' `label`).
"""

from __future__ import annotations

import math
from typing import Any

from loadgen.history.compare import fmt_value
from loadgen.history.record import LATENCY_STATS
from loadgen.history.trend import SeriesTrend, Trend
from loadgen.report import charts
from loadgen.report.build import library_payload
from loadgen.report.render import esc, shell

UNITS = {"error_rate": "error rate", "value": "rate of failed requests", "rate": "per second"}


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _line(s: SeriesTrend) -> dict[str, Any]:
    stat = s.series[2]
    return {"name": stat, "values": [_finite(p.value) for p in s.points],
            "baseline": [_finite(p.baseline) for p in s.points],
            "worse": [p.worse for p in s.points],
            "hover": [f"{s.name}, run #{p.run.id} {p.run.started_at}: "
                      f"{fmt_value(stat, p.value)} against the average "
                      f"{fmt_value(stat, p.baseline)}" + (" (worse)" if p.worse else "")
                      for p in s.points]}


def figures(t: Trend, no: int) -> list[dict[str, Any]]:
    """One figure per metric of a label (its latency stats together)."""
    groups: dict[tuple[str, str, str], list[SeriesTrend]] = {}
    for s in t.series:
        scope, name, stat = s.series
        groups.setdefault((scope, name, "ms" if stat in LATENCY_STATS else stat), []).append(s)
    out = []
    for i, ((scope, name, unit), members) in enumerate(groups.items()):
        what = f"{'endpoint ' if scope == 'endpoint' else ''}{name}"
        stats = ", ".join(m.series[2] for m in members)
        runs = [f"#{p.run.id}" for p in members[0].points]
        out.append(charts.over_runs(f"t{no}-{i}", f"{what} {stats}", runs,
                                    UNITS.get(unit, unit), [_line(m) for m in members]))
    return out


def render(trends: list[Trend]) -> str:
    body, figs = ["<h1>loadgen trend</h1>"], []
    for no, t in enumerate(trends):
        verdict = ("not enough runs to judge" if not t.enough else
                   "failing: " + ", ".join(s.name for s in t.failing) if t.failing else "passing")
        body.append(f"<h2>{esc(t.label)}</h2><p>{len(t.runs)} runs, window {t.window}, "
                    f"tolerance {t.tolerance * 100:g}%, {t.consecutive} consecutive: "
                    f"<strong>{esc(verdict)}</strong></p>")
        mine = figures(t, no)
        body += [f'<div class="chart" id="chart-{esc(f["id"])}"></div>' for f in mine]
        figs += mine
    return shell("loadgen trend", "".join(body), figs, library_payload()) + "\n"
