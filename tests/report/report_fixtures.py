"""Synthetic inputs for the report's tests: interval snapshots as a process cuts them, a whole
results archive of any length (a 30-minute soak in seconds), and a summary carrying every
shared `loadgen.*` key the report reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from loadgen.metrics.histogram import TrendSink
from loadgen.metrics.model import Contains, tagset
from loadgen.metrics.registry import Registry
from loadgen.metrics.sinks import CounterSink, GaugeSink, RateSink, Sink
from loadgen.results.archive import ArchiveWriter, build_header
from loadgen.results.interval import UNIT_EXP, Interval

EVIL = "<script>alert(1)</script>"


def trend(values: Any, exact_limit: int = 10_000) -> TrendSink:
    s = TrendSink(exact_limit=exact_limit, unit_exp=UNIT_EXP[Contains.TIME])
    s.add_many(np.asarray(values, dtype=np.float64))
    return s


def interval(start: float, by_name: dict[str, list[float]], *, failed: dict[str, int] | None = None,
             vus: float = 0.0, width: float = 1.0, exact_limit: int = 10_000,
             lag: list[float] | None = None) -> Interval:
    """One process's snapshot of [start, start+width): each name's request durations (ms)."""
    metrics: dict[Any, Sink] = {}
    for name, values in by_name.items():
        tags = tagset({"name": name, "scenario": "s"})
        c = CounterSink()
        c.add_many(np.ones(len(values)))
        r = RateSink()
        bad = (failed or {}).get(name, 0)
        r.add_many(np.array([1.0] * bad + [0.0] * (len(values) - bad)))
        metrics[("http_reqs", tags)] = c
        metrics[("http_req_failed", tags)] = r
        metrics[("http_req_duration", tags)] = trend(values, exact_limit)
    g = GaugeSink()
    g.add(vus)
    metrics[("vus", tagset({}))] = g
    if lag is not None:
        metrics[("iteration_lag", tagset({"scenario": "s"}))] = trend(lag)
    return Interval(start, start + width, metrics)


def synthetic_archive(path: Path, seconds: int, names: int = 5, per_second: int = 500,
                      seed: int = 1) -> None:
    """A results archive of `seconds` one-second intervals, `per_second` requests each spread
    over `names` request names (HDR histograms, as a long run writes them)."""
    rng = np.random.default_rng(seed)
    registry = Registry()
    w = ArchiveWriter(str(path), build_header(script="soak.py", specs=[], thresholds={},
                                              registry=registry, tags={}, segment=None),
                      registry)
    w.start(1_700_000_000_000_000_000)
    each = per_second // names
    for s in range(seconds):
        by_name = {f"/api/{i}": list(rng.lognormal(1.5 + i / 4, 0.5, each)) for i in range(names)}
        w.interval(interval(float(s), by_name, failed={"/api/0": s % 7}, vus=50,
                            exact_limit=0, lag=list(rng.exponential(0.3, 50))))
    w.end(seconds * 1_000_000_000, 0, "")
    assert w.failure is None, w.failure


def summary_fixture() -> dict[str, Any]:
    """A --summary-json object with every shared key the report reads (and hostile text)."""
    return {
        "root_group": {"name": "", "path": "", "id": "x", "groups": [
            {"name": EVIL, "path": "::" + EVIL, "id": "y", "groups": [], "checks": [
                {"name": "status is 200", "path": "", "id": "z", "passes": 9, "fails": 1}]}],
            "checks": [{"name": "body ok", "path": "", "id": "w", "passes": 10, "fails": 0}]},
        "options": {}, "state": {"testRunDurationMs": 10_000.0},
        "metrics": {
            "http_req_duration{name:" + EVIL + "}": {
                "type": "trend", "contains": "time",
                "values": {"p(95)": 321.5, "max": 400.0},
                "thresholds": {"p(95)<300": {"ok": False}}},
            "http_req_failed": {"type": "rate", "contains": "default",
                                "values": {"rate": 0.01, "passes": 1, "fails": 99},
                                "thresholds": {"rate<0.05": {"ok": True}}},
        },
        "loadgen": {
            "version": 1, "outcome": {"exit_code": 0, "reason": ""},
            "open_model": {EVIL: {"dropped_iterations": 7, "iteration_lag": {"p(95)": 1.5,
                                                                             "p(99)": 4.0},
                                  "iteration_latency": {"med": 10.0, "p(95)": 50.0,
                                                        "p(99)": None, "unserved": 7}}},
            "warnings": [f"saturated generator near {EVIL}"],
            "verdicts": {"spike": {"kind": "Spike", "ok": False, "headline": "p95 broke",
                                   "figures": {}, "details": [EVIL]}},
            "endpoints": [
                {"name": EVIL, "count": 100, "rate": 10.0, "error_rate": 0.01, "p50": 120.0,
                 "p90": 250.0, "p95": 321.5, "p99": 390.0, "max": 400.0},
                {"name": "/ok", "count": 50, "rate": 5.0, "error_rate": 0.0, "p50": 1.5,
                 "p90": 2.0, "p95": 2.5, "p99": 3.0, "max": 3.5}],
            "slo": {EVIL: {"p95": 300, "p99": 400, "error_rate": 0.005, "avg": 100}},
            "slowest_requests": [
                {"name": EVIL, "method": "GET", "url": "http://127.0.0.1:1/?q=" + EVIL,
                 "status": 500, "duration_ms": 400.0, "started": "2026-12-02T07:00:00Z",
                 "trace_id": None, "scenario": "s"}],
            "events": [{"at_s": 3.0, "name": EVIL, "kind": "exec", "ok": False, "status": 1,
                        "duration_s": 0.5, "output_tail": "</script><b>x</b>",
                        "required": True}],
            "recovery": [{"event": EVIL, "recovery_s": None, "peak_p95_ms": 900.0,
                          "peak_error_rate": 0.5, "kept_answering": True, "passed": False}],
        },
    }
