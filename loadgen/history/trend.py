"""The trend gate: each run of a label against the average of the N runs before it; the gate
fails (exit 99) when one series (an endpoint's or a key metric's statistic) has been worse
than the tolerance in each of the last K runs.

Why the last K and not any K in the past: a gate answers "is it broken now"; a regression
that was fixed last week must not fail tonight's build. Why "worse" needs the same series in
a row: one noisy night is not a regression, three are.

Too few runs (fewer than window + consecutive: the gate could not fail even if everything
were slower) is not a pass: `enough` is False and the command exits 104, saying so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from loadgen.history.compare import direction, fmt_value
from loadgen.history.record import Key, RunRecord

#: the series the gate watches: key metrics and every endpoint
METRIC_SERIES = {"http_req_duration": ("p95", "p99"), "http_reqs": ("rate",),
                 "http_req_failed": ("value",)}
ENDPOINT_SERIES = ("p95", "p99", "error_rate", "rate")
#: a fraction (error rate) is worse only when it also rose by this much (0.1 pp): 0.01% to
#: 0.02% doubles but is noise
FRACTION_FLOOR = 0.001

Series = tuple[str, str, str]  # scope, name, stat


@dataclass
class Point:
    run: RunRecord
    value: float | None
    baseline: float | None  # the average of the window before it (None: no full window)
    change: float | None  # relative change against the baseline
    worse: bool


@dataclass
class SeriesTrend:
    series: Series
    points: list[Point] = field(default_factory=list)

    @property
    def streak(self) -> int:
        """How many of the newest runs in a row were worse."""
        n = 0
        for p in reversed(self.points):
            if not p.worse:
                break
            n += 1
        return n

    @property
    def name(self) -> str:
        scope, name, stat = self.series
        return f"{'endpoint ' if scope == 'endpoint' else ''}{name} {stat}"


@dataclass
class Trend:
    label: str
    runs: list[RunRecord]
    window: int
    tolerance: float  # a fraction: 0.1 = 10%
    consecutive: int
    series: list[SeriesTrend]

    @property
    def enough(self) -> bool:
        return len(self.runs) >= self.window + self.consecutive

    @property
    def failing(self) -> list[SeriesTrend]:
        return [s for s in self.series if s.streak >= self.consecutive]

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "runs": len(self.runs), "window": self.window,
                "tolerance": self.tolerance, "consecutive": self.consecutive,
                "enough_runs": self.enough,
                "failing": [s.name for s in self.failing],
                "series": [{"scope": s.series[0], "name": s.series[1], "stat": s.series[2],
                            "streak": s.streak, "points": [
                                {"run": p.run.id, "started_at": p.run.started_at,
                                 "value": _j(p.value), "baseline": _j(p.baseline),
                                 "change_pct": None if p.change is None or not math.isfinite(
                                     p.change) else p.change * 100,
                                 "worse": p.worse} for p in s.points]}
                           for s in self.series]}


def _j(x: float | None) -> float | str | None:
    return x if x is None or math.isfinite(x) else "inf"


def series_of(runs: list[RunRecord]) -> list[Series]:
    out: dict[Series, None] = {}
    for rec in runs:
        for (scope, name), stats in rec.stats.items():
            wanted = ENDPOINT_SERIES if scope == "endpoint" else METRIC_SERIES.get(name, ())
            for stat in wanted:
                if stat in stats:
                    out[(scope, name, stat)] = None
    return list(out)


def is_worse(key: Key, stat: str, value: float, baseline: float, tolerance: float) -> bool:
    d = direction(key, stat)
    if d == 0:
        return False
    if math.isinf(value) or math.isinf(baseline):
        return (value > baseline) == (d < 0) and value != baseline
    change = (value - baseline) / abs(baseline) if baseline else (
        math.inf if value > 0 else -math.inf if value < 0 else 0.0)
    if stat in ("error_rate", "value") and abs(value - baseline) < FRACTION_FLOOR:
        return False
    return change * -d > tolerance


def trend(runs: list[RunRecord], label: str, *, window: int, tolerance: float,
          consecutive: int) -> Trend:
    out: list[SeriesTrend] = []
    for series in series_of(runs):
        scope, name, stat = series
        key = (scope, name)
        values = [r.stats.get(key, {}).get(stat) for r in runs]
        st = SeriesTrend(series)
        for i, rec in enumerate(runs):
            v = values[i]
            before = [x for x in values[max(0, i - window):i] if x is not None]
            if i < window or v is None or not before:
                st.points.append(Point(rec, v, None, None, False))
                continue
            base = sum(before) / len(before)
            change = None if math.isinf(base) else (v - base) / abs(base) if base else None
            st.points.append(Point(rec, v, base, change,
                                   is_worse(key, stat, v, base, tolerance)))
        out.append(st)
    return Trend(label, runs, window, tolerance, consecutive, out)


def render(t: Trend, last: int = 10) -> str:
    """The last runs, one column per run, each cell the value and its change against the
    window's average (`*` marks a worse one)."""
    lines = [f"label {t.label}: {len(t.runs)} runs, window {t.window}, tolerance "
             f"{t.tolerance * 100:g}%, fail after {t.consecutive} consecutive worse runs"]
    runs = t.runs[-last:]
    head = ["series", *(f"#{r.id}" for r in runs)]
    cells = [head, ["", *(r.started_at[5:16].replace("T", " ") for r in runs)]]
    for s in t.series:
        row = [s.name]
        for p in s.points[-last:]:
            text = fmt_value(s.series[2], p.value)
            if p.change is not None:
                text += f" {p.change * 100:+.0f}%"
            row.append(text + ("*" if p.worse else ""))
        cells.append(row)
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines += ["  ".join(c[i].ljust(widths[i]) if i == 0 else c[i].rjust(widths[i])
                        for i in range(len(head))).rstrip() for c in cells]
    if not t.enough:
        lines.append(f"⚠ NOT ENOUGH RUNS: {len(t.runs)} run(s) of {t.label!r}; the gate needs "
                     f"{t.window + t.consecutive} (window {t.window} + {t.consecutive} "
                     "consecutive) before it can fail: not judged (exit 104)")
    elif t.failing:
        lines += [f"✗ {s.name}: worse than the {t.window}-run average by more than "
                  f"{t.tolerance * 100:g}% in the last {s.streak} runs" for s in t.failing]
    else:
        lines.append(f"✓ no series worse in {t.consecutive} consecutive runs")
    return "\n".join(lines) + "\n"
