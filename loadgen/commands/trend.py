"""`loadgen trend --history PATH`: the trend gate over a label's runs (exit 99 failing, 0
passing, 104 too few runs to judge or bad input), its table, `--json` and `--html`."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from loadgen.errors import ConfigError, ExitCode
from loadgen.history import trend_html
from loadgen.history.store import HistoryStore
from loadgen.history.trend import Trend, render, trend


def parse_tolerance(text: str) -> float:
    """`10%` or `10` (percent) -> 0.1."""
    raw = text.strip().removesuffix("%")
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"--tolerance {text!r}: a percentage such as 10%") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"--tolerance {text!r}: must be a percentage >= 0")
    return value / 100


def run_trend(history: str, label: str | None, window: int, tolerance: str, consecutive: int,
              as_json: bool, html: str | None) -> int:
    problems = []
    if window < 1:
        problems.append(f"--window {window}: at least 1 run")
    if consecutive < 1:
        problems.append(f"--consecutive {consecutive}: at least 1 run")
    try:
        tol = parse_tolerance(tolerance)
    except ConfigError as e:
        problems += e.problems
        tol = 0.0
    if html:
        from loadgen.results.report import writable_problem

        problems += [p for p in [writable_problem("--html", html)] if p]
    if problems:
        raise ConfigError(problems)
    with HistoryStore(history, create=False) as store:
        labels = [label] if label else store.labels()
        trends = [trend(store.runs(lb), lb, window=window, tolerance=tol,
                        consecutive=consecutive) for lb in labels]
    if as_json:
        sys.stdout.write(json.dumps({"labels": [t.to_json() for t in trends],
                                     "exit_code": exit_code(trends)}, indent=2) + "\n")
    else:
        if not trends or not any(t.runs for t in trends):
            sys.stdout.write(f"history {history}: no runs"
                             + (f" with label {label!r}" if label else "") + "\n")
        sys.stdout.write("\n".join(render(t) for t in trends if t.runs))
    if html:
        try:
            Path(html).write_text(trend_html.render(trends), encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"--html {html}: {e.strerror or e}") from None
    return exit_code(trends)


def exit_code(trends: list[Trend]) -> int:
    """99 when any label fails; else 104 when one could not be judged (too few runs: never
    a pass by default); else 0."""
    if any(t.enough and t.failing for t in trends):
        return ExitCode.THRESHOLDS_FAILED
    if not trends or any(not t.enough for t in trends):
        return ExitCode.INVALID_CONFIG
    return ExitCode.OK
