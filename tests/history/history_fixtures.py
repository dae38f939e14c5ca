"""Summary data of made-up runs, in the shape a run writes (`--summary-json`, with the shared
`loadgen.endpoints` / `loadgen.slo` keys), so the history readers are tested without load."""

from __future__ import annotations

from typing import Any

from loadgen.history.record import RunRecord, from_summary


def summary(*, p95: float = 100.0, rate: float = 50.0, failed: float = 0.0,
            duration_s: float = 60.0, thresholds: dict[str, bool] | None = None,
            endpoints: list[dict[str, Any]] | None = None, slo: dict[str, Any] | None = None,
            exit_code: int = 0) -> dict[str, Any]:
    """A handleSummary document whose http_req_duration percentiles scale with `p95`."""
    count = rate * duration_s
    dur: dict[str, Any] = {"type": "trend", "contains": "time", "values": {
        "avg": p95 * 0.5, "min": p95 * 0.1, "med": p95 * 0.45, "max": p95 * 2,
        "p(90)": p95 * 0.8, "p(95)": p95, "p(99)": p95 * 1.5}}
    if thresholds:
        dur["thresholds"] = {src: {"ok": ok} for src, ok in thresholds.items()}
    loadgen: dict[str, Any] = {"version": 1, "outcome": {"exit_code": exit_code, "reason": ""},
                               "generator": {"saturated": False, "saturated_seconds": 0,
                                             "intervals": []}, "warnings": []}
    if endpoints is not None:
        loadgen["endpoints"] = endpoints
    if slo is not None:
        loadgen["slo"] = slo
    return {"state": {"testRunDurationMs": duration_s * 1000},
            "metrics": {
                "http_req_duration": dur,
                "http_reqs": {"type": "counter", "contains": "default",
                              "values": {"count": count, "rate": rate}},
                "http_req_failed": {"type": "rate", "contains": "default", "values": {
                    "rate": failed, "passes": int(count * failed),
                    "fails": int(count - count * failed)}},
                "vus": {"type": "gauge", "contains": "default",
                        "values": {"value": 10, "min": 0, "max": 10}}},
            "loadgen": loadgen}


def endpoint(name: str, p95: float, *, rate: float = 10.0, error_rate: float = 0.0,
             ) -> dict[str, Any]:
    return {"name": name, "count": int(rate * 60), "rate": rate, "error_rate": error_rate,
            "p50": p95 * 0.45, "p90": p95 * 0.8, "p95": p95, "p99": p95 * 1.5, "max": p95 * 2}


def record(label: str = "nightly", started_at: str = "2026-11-01T02:00:00Z",
           **kw: Any) -> RunRecord:
    code = kw.pop("exit_code", 0)
    return from_summary(summary(exit_code=code, **kw), label=label, exit_code=code,
                        started_at=started_at)
