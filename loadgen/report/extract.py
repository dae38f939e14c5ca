"""What the page shows, read from the summary data a run already builds (the `--summary-json`
object with its `loadgen` section) plus the per-interval series: plain rows, no HTML.

Every shared `loadgen.*` key (endpoints, slo, slowest_requests, events, recovery) is read when
present and skipped when absent; values of unexpected types are skipped too, since the summary
may come from another version (the report never fails on a shape it does not know).
"""

from __future__ import annotations

import math
import re
from typing import Any

from loadgen.report.collect import Series

_AGG = re.compile(r"^\s*([a-z]+(?:\(\s*[\d.]+\s*\))?)\s*(?:===|==|!=|<=|>=|<|>)")
ENDPOINT_COLS = ("p50", "p90", "p95", "p99", "max")


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def thresholds(data: dict[str, Any], pvalues: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """One row per threshold expression: metric, expression, passed, the observed value."""
    rows = []
    for metric, m in sorted(_dict(data.get("metrics")).items()):
        values = _dict(_dict(m).get("values"))
        for expr, res in _dict(_dict(m).get("thresholds")).items():
            match = _AGG.match(str(expr))
            agg = re.sub(r"\s+", "", match.group(1)) if match else ""
            observed = _dict(pvalues.get(metric)).get(agg, values.get(agg))
            rows.append({"metric": metric, "expr": str(expr), "agg": agg,
                         "ok": bool(_dict(res).get("ok")), "observed": _num(observed)})
    return rows


def checks(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def walk(group: dict[str, Any], path: list[str]) -> None:
        for c in _list(group.get("checks")):
            c = _dict(c)
            passes, fails = int(_num(c.get("passes")) or 0), int(_num(c.get("fails")) or 0)
            rows.append({"name": " › ".join([*path, str(c.get("name", ""))]),
                         "passes": passes, "fails": fails, "ok": fails == 0})
        for g in _list(group.get("groups")):
            walk(_dict(g), [*path, str(_dict(g).get("name", ""))])

    walk(_dict(data.get("root_group")), [])
    return rows


def verdicts(lg: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"scenario": str(s), "kind": str(_dict(v).get("kind", "")),
             "ok": _dict(v).get("ok"), "headline": str(_dict(v).get("headline", "")),
             "details": [str(d) for d in _list(_dict(v).get("details"))]}
            for s, v in _dict(lg.get("verdicts")).items()]


def endpoints(lg: dict[str, Any], series: Series | None, duration_s: float,
              ) -> tuple[list[dict[str, Any]], str]:
    """The per-request-name rows (ms), from `loadgen.endpoints` when the run built them,
    else computed here from the intervals; and where they came from."""
    given = [_dict(r) for r in _list(lg.get("endpoints")) if isinstance(r, dict)]
    if "endpoints" in lg and isinstance(lg.get("endpoints"), list):
        return [{"name": str(r.get("name", "")), "count": _num(r.get("count")),
                 "rate": _num(r.get("rate")), "error_rate": _num(r.get("error_rate")),
                 **{c: _num(r.get(c)) for c in ENDPOINT_COLS}} for r in given], "summary"
    rows: list[dict[str, Any]] = []
    for name, tot in (series.totals.items() if series else ()):
        count = tot.get("count", 0.0)
        rows.append({"name": name, "count": count,
                     "rate": count / duration_s if duration_s > 0 else None,
                     "error_rate": (tot["failed"] / tot["failed_total"]
                                    if tot.get("failed_total") else 0.0),
                     **{c: tot.get(c) for c in ENDPOINT_COLS}})
    rows.sort(key=lambda r: -float(r["count"] or 0))
    return rows, "intervals"


def open_model(lg: dict[str, Any]) -> list[dict[str, Any]]:
    """Per arrival-rate scenario: dropped and unserved iterations, the schedule's lag and the
    latency from the intended start (the `loadgen.open_model` section)."""
    rows = []
    for scen, view in _dict(lg.get("open_model")).items():
        view = _dict(view)
        lag, lat = _dict(view.get("iteration_lag")), _dict(view.get("iteration_latency"))
        if _num(lat.get("unserved")):  # the JSON files write an unserved percentile as null
            lat = {k: (math.inf if v is None else v) for k, v in lat.items()}
        rows.append({"scenario": str(scen), "dropped": _num(view.get("dropped_iterations")),
                     "unserved": _num(lat.get("unserved")),
                     "lag_p95": _num(lag.get("p(95)")), "lag_p99": _num(lag.get("p(99)")),
                     "latency_p50": _num(lat.get("med")), "latency_p95": _num(lat.get("p(95)")),
                     "latency_p99": _num(lat.get("p(99)"))})
    return rows


def slo(lg: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {str(n): {str(k): float(v) for k, v in _dict(b).items() if _num(v) is not None}
            for n, b in _dict(lg.get("slo")).items()}


def records(lg: dict[str, Any], key: str, limit: int = 500) -> list[dict[str, Any]] | None:
    """A list-of-objects key, bounded (None when absent: the section is left out)."""
    if key not in lg or not isinstance(lg[key], list):
        return None
    return [r for r in lg[key] if isinstance(r, dict)][:limit]


def verdict(data: dict[str, Any], exit_code: int, rows: list[dict[str, Any]],
            vs: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline: passed only when the run's exit code is 0."""
    failed_t = sum(1 for r in rows if not r["ok"])
    failed_v = sum(1 for v in vs if v["ok"] is False)
    reason = str(_dict(_dict(data.get("loadgen")).get("outcome")).get("reason") or "")
    return {"passed": exit_code == 0, "exit_code": exit_code, "failed_thresholds": failed_t,
            "thresholds": len(rows), "failed_verdicts": failed_v, "reason": reason}


def duration_s(data: dict[str, Any]) -> float:
    ms = _num(_dict(data.get("state")).get("testRunDurationMs")) or 0.0
    return ms / 1000 if math.isfinite(ms) else 0.0


def model(data: dict[str, Any], series: Series | None, *, exit_code: int,
          pvalues: dict[str, dict[str, float]] | None = None,
          run_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the page shows except the charts."""
    lg = _dict(data.get("loadgen"))
    t_rows = thresholds(data, pvalues or {})
    vs = verdicts(lg)
    dur = duration_s(data)
    ep_rows, ep_source = endpoints(lg, series, dur)
    return {
        "verdict": verdict(data, exit_code, t_rows, vs), "duration_s": dur,
        "thresholds": t_rows, "checks": checks(data), "verdicts": vs,
        "warnings": [str(w) for w in _list(lg.get("warnings"))],
        "endpoints": ep_rows, "endpoints_source": ep_source, "slo": slo(lg),
        "open_model": open_model(lg),
        "slowest": records(lg, "slowest_requests"), "events": records(lg, "events"),
        "recovery": records(lg, "recovery"), "run": run_info or {},
        "fleet": _dict(lg.get("fleet")) or None,
        "late": series.late if series is not None else 0,
    }
