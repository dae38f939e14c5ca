"""`loadgen.endpoints`: per-request-name rows from the store's sub-metrics, made as names
appear (in-process records and a worker's absorbed intervals alike), bounded, and the
`--summary-by-name` table with SLO budgets beside the observed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from results_helpers import S, make, tags

from loadgen import ConstantVUs, Scenario
from loadgen.errors import ExitCode
from loadgen.execution.engine import Outcome, ScenarioSpec
from loadgen.metrics.ingest import Store
from loadgen.metrics.registry import Recorder, Registry
from loadgen.metrics.sinks import new_sink
from loadgen.results.config import ResultsConfig
from loadgen.results.endpoints import EndpointViews
from loadgen.summary.by_name import render_by_name


def req(rec: Recorder, name: str, ms: float, ok: bool = True) -> None:
    rec.http(1, tags(name=name, url=name, expected_response="true" if ok else "false"),
             ms, 0, 0, 0, 0, ms, 0, 0 if ok else 1)


def test_rows_per_name_with_count_rate_errors_and_percentiles(tmp_path: Path) -> None:
    hs, export = tmp_path / "h.json", tmp_path / "e.json"
    res, _, rec = make(ResultsConfig(summary_json=str(hs), summary_export=str(export)))
    for ms in range(1, 101):
        req(rec, "fast", float(ms))
    req(rec, "slow", 900.0)
    req(rec, "slow", 1000.0, ok=False)
    res.ingest(rec.drain())
    res.finish(Outcome(ExitCode.OK, 2 * S))
    rows = {r["name"]: r for r in json.loads(hs.read_text())["loadgen"]["endpoints"]}
    assert set(rows) == {"fast", "slow"}
    fast = rows["fast"]
    assert fast["count"] == 100 and fast["rate"] == 50.0 and fast["error_rate"] == 0
    assert fast["p50"] == pytest.approx(50.5) and fast["p99"] == pytest.approx(99.01)
    assert fast["max"] == 100.0 and set(fast) == {"name", "count", "rate", "error_rate",
                                                 "p50", "p90", "p95", "p99", "max"}
    assert rows["slow"]["error_rate"] == 0.5 and rows["slow"]["max"] == 1000.0
    # loadgen's own views: not k6 sub-metrics in the files
    assert not any("name:" in k for k in json.loads(export.read_text())["metrics"])


def test_an_absorbed_interval_makes_its_names_rows_too() -> None:
    reg = Registry()
    store = Store(reg)
    views = EndpointViews(store)
    sink = new_sink(reg["http_req_duration"].type)
    for v in (10.0, 20.0, 30.0):
        sink.add(v)
    counter = new_sink(reg["http_reqs"].type)
    counter.add_many(__import__("numpy").ones(3))
    t = tags(name="from_worker")
    store.absorb(reg["http_reqs"], t, counter)
    store.absorb(reg["http_req_duration"], t, sink)
    (row,) = views.rows(1.0)
    assert row["name"] == "from_worker" and row["count"] == 3 and row["max"] == 30.0


def test_names_are_bounded_and_the_rest_counted() -> None:
    reg, rec = Registry(), Recorder()
    store = Store(reg)
    views = EndpointViews(store, max_names=2)
    for name in ("a", "b", "c", "d"):
        req(rec, name, 1.0)
    store.ingest(rec.drain())
    assert len(views.rows(1.0)) == 2  # which two: the order tag sets were first fed in
    assert "2 more" in (views.warning() or "")


class Budgeted(Scenario):
    executor = ConstantVUs(vus=1, duration="10s")
    slo = {"slow": {"p95": 200, "p99": 2000, "avg": 100}, "fast": {"p95": 500}}


def test_the_by_name_table_marks_a_broken_budget(capsys: pytest.CaptureFixture[str]) -> None:
    spec = ScenarioSpec("budgeted", Budgeted, Budgeted.executor)
    res, _, rec = make(ResultsConfig(summary_by_name=True), specs=[spec])
    req(rec, "fast", 5.0)
    req(rec, "slow", 900.0)
    res.ingest(rec.drain())
    assert res.finish(Outcome(ExitCode.OK, S)) == ExitCode.THRESHOLDS_FAILED
    out = capsys.readouterr().out
    table = out[out.index("█ BY NAME"):]
    fast = next(line for line in table.splitlines() if "fast." in line)
    slow = next(line for line in table.splitlines() if "slow." in line)
    assert "p95=5ms ✓<500ms" in fast and fast.lstrip().startswith("✓")
    assert "p95=900ms ✗<200ms" in slow and "p99=900ms ✓<2s" in slow
    assert "avg<100ms (in THRESHOLDS)" in slow
    assert slow.lstrip().startswith("✗")


def test_the_table_is_shown_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    res, _, rec = make()
    req(rec, "fast", 5.0)
    res.ingest(rec.drain())
    res.finish(Outcome(ExitCode.OK, S))
    assert "BY NAME" not in capsys.readouterr().out
    assert render_by_name({}) == ""
