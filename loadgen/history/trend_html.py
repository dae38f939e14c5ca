"""`loadgen trend --html FILE`: one self-contained page, a chart per series (inline SVG
polylines: the values, and the window average they were judged against), no script and no
external request, so it opens from a CI artifact offline. Every label is escaped: endpoint
names and labels come from scenario files and the history file.
"""

from __future__ import annotations

import math
from html import escape

from loadgen.history.compare import fmt_value
from loadgen.history.trend import SeriesTrend, Trend

W, H, PAD = 640, 180, 36


def _points(values: list[float | None], lo: float, hi: float, n: int) -> str:
    span = hi - lo or 1.0
    step = (W - 2 * PAD) / max(n - 1, 1)
    out = []
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v):
            continue
        x = PAD + i * step
        y = H - PAD - (v - lo) / span * (H - 2 * PAD)
        out.append(f"{x:.1f},{y:.1f}")
    return " ".join(out)


def chart(s: SeriesTrend) -> str:
    values = [p.value for p in s.points]
    base = [p.baseline for p in s.points]
    finite = [v for v in values + base if v is not None and math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    lo = min(lo, 0.0)
    n = len(values)
    step = (W - 2 * PAD) / max(n - 1, 1)
    marks = "".join(
        f'<circle cx="{PAD + i * step:.1f}" cy="{H - PAD - ((p.value or 0) - lo) / ((hi - lo) or 1) * (H - 2 * PAD):.1f}" '  # noqa: E501
        f'r="4" class="worse"><title>{escape(_tip(s, i))}</title></circle>'
        for i, p in enumerate(s.points) if p.worse and p.value is not None
        and math.isfinite(p.value))
    ticks = "".join(
        f'<text x="{PAD + i * step:.1f}" y="{H - 12}" text-anchor="middle">'
        f'#{escape(str(p.run.id))}</text>' for i, p in enumerate(s.points))
    stat = s.series[2]
    return (f'<figure><figcaption>{escape(s.name)} (streak {s.streak})</figcaption>'
            f'<svg width="{W}" height="{H}" '
            f'viewBox="0 0 {W} {H}" role="img" aria-label="{escape(s.name, quote=True)}">'
            f'<text x="4" y="14">{escape(fmt_value(stat, hi))}</text>'
            f'<text x="4" y="{H - PAD}">{escape(fmt_value(stat, lo))}</text>'
            f'<polyline class="baseline" points="{_points(base, lo, hi, n)}"/>'
            f'<polyline class="value" points="{_points(values, lo, hi, n)}"/>'
            f'{marks}{ticks}</svg></figure>')


def _tip(s: SeriesTrend, i: int) -> str:
    p = s.points[i]
    return (f"run #{p.run.id} {p.run.started_at}: {fmt_value(s.series[2], p.value)} vs "
            f"average {fmt_value(s.series[2], p.baseline)}")


STYLE = """body{font-family:sans-serif;margin:2em}figure{margin:1em 0}
polyline{fill:none;stroke-width:2}.value{stroke:#1f77b4}.baseline{stroke:#999;
stroke-dasharray:4 3}.worse{fill:#d62728}text{font-size:11px;fill:#333}"""


def render(trends: list[Trend]) -> str:
    body = []
    for t in trends:
        verdict = ("not enough runs to judge" if not t.enough else
                   "failing: " + ", ".join(s.name for s in t.failing) if t.failing else "passing")
        body.append(f"<h2>{escape(t.label)}</h2><p>{len(t.runs)} runs, window {t.window}, "
                    f"tolerance {t.tolerance * 100:g}%, {t.consecutive} consecutive: "
                    f"<strong>{escape(verdict)}</strong></p>")
        body += [chart(s) for s in t.series]
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>loadgen trend</title>"
            f"<style>{STYLE}</style></head><body><h1>loadgen trend</h1>"
            + "".join(body) + "</body></html>\n")
