"""Beyond k6's summary: the per-endpoint table (`--summary-by-name`) with each name's SLO
budgets beside the observed values, and the slowest requests with their trace ids.

Both render `loadgen.endpoints` / `loadgen.slo` / `loadgen.slowest_requests` from the
summary data, in k6's text layout (a `█` section, dotted name column, `key=value` fields),
so what the text says is exactly what the JSON files hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loadgen.summary.humanize import humanize_duration, str_width

_STATS = ("p50", "p90", "p95", "p99", "max")


def _ms(v: Any, unit: str | None) -> str:
    return "-" if v is None else humanize_duration(float(v), unit)


def _broken(observed: Any, budget: float) -> bool:
    """As the `<` threshold a budget expands to judges it (no value: broken)."""
    return observed is None or float(observed) >= budget


def _budget(observed: Any, budget: float | None, shown: str, limit: str) -> str:
    """`shown` alone, or with its budget and a mark: ✓ within, ✗ broken."""
    if budget is None:
        return shown
    return f"{shown} {'✗' if _broken(observed, budget) else '✓'}<{limit}"


def render_by_name(section: Mapping[str, Any], unit: str | None = None) -> str:
    rows: Sequence[Mapping[str, Any]] = section.get("endpoints") or ()
    if not rows:
        return ""
    slo: Mapping[str, Mapping[str, float]] = section.get("slo") or {}
    width = max(str_width(str(r["name"])) for r in rows) + 3
    lines = []
    for r in rows:
        name = str(r["name"])
        budgets = slo.get(name, {})
        err = r.get("error_rate")
        err_text = "-" if err is None else f"{float(err):.2%}"
        budget = budgets.get("error_rate")
        fields = [f"count={r['count']}", f"rate={float(r['rate']):.2f}/s",
                  "errors=" + _budget(err, budget, err_text,
                                      f"{budget:.2%}" if budget is not None else "")]
        for stat in _STATS:
            b = budgets.get(stat)
            fields.append(f"{stat}=" + _budget(r.get(stat), b, _ms(r.get(stat), unit),
                                               _ms(b, unit)))
        fields += [f"{stat}<{_ms(b, unit)} (in THRESHOLDS)" for stat, b in budgets.items()
                   if stat not in _STATS and stat != "error_rate"]  # avg, med, p99.9...
        dots = "." * (width - str_width(name))
        broken = any(_broken(r.get(k), b) for k, b in budgets.items()
                     if k in _STATS or k == "error_rate")
        mark = "✗ " if broken else ("✓ " if budgets else "  ")
        lines.append(f"    {mark}{name}{dots}: " + " ".join(fields))
    return "  █ BY NAME \n\n" + "\n".join(lines) + "\n\n"


def render_slowest(section: Mapping[str, Any], unit: str | None = None) -> str:
    rows: Sequence[Mapping[str, Any]] = section.get("slowest_requests") or ()
    if not rows:
        return ""
    lines = []
    for r in rows:
        trace = f" trace_id={r['trace_id']}" if r.get("trace_id") else ""
        name = f" name={r.get('name')}" if r.get("name") != r.get("url") else ""
        lines.append(f"    {_ms(r.get('duration_ms'), unit)} {r.get('method')} "
                     f"{r.get('url')}{name} status={r.get('status')} "
                     f"started={r.get('started')} scenario={r.get('scenario')}{trace}")
    return "  █ SLOWEST REQUESTS \n\n" + "\n".join(lines) + "\n\n"
