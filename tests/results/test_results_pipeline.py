"""The results pipeline on its own: records in, checks/groups counted during ingest, stop
requests from the judge, the exit code and every file out. No engine, no sockets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from results_helpers import Open, Plain, S, make, request, tags

from loadgen import ConstantVUs
from loadgen.errors import ConfigError, ExitCode
from loadgen.execution.engine import Outcome, ScenarioSpec, StopRequest
from loadgen.metrics.ingest import Store
from loadgen.metrics.model import tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.results.config import ResultsConfig
from loadgen.results.judge import ABORT_REASON
from loadgen.results.report import schedule_warnings
from loadgen.testtypes.base import TestType
from loadgen.watch.generator import GeneratorWatch


def test_checks_and_groups_are_counted_in_first_seen_order_during_ingest() -> None:
    res, reg, rec = make()
    checks, group = reg["checks"], reg["group_duration"]
    # one batch: a group that ends before a check in another group is first seen
    rec.sample(group, 5.0, tags(group="::a"), 1)
    rec.sample(checks, 1.0, tags(group="::b", check="second"), 2)
    rec.sample(checks, 1.0, tags(check="first"), 3)
    rec.sample(checks, 0.0, tags(group="::b", check="second"), 4)
    res.ingest(rec.drain())
    rec.sample(checks, 0.0, tags(check="first"), 5)
    res.ingest(rec.drain())
    tree = res.checks.tree
    assert [g.name for g in tree.root.groups.values()] == ["a", "b"]
    assert [(c.name, c.passes, c.fails) for c in tree.flat_checks()] == [
        ("second", 1, 1), ("first", 1, 1)]
    assert tree.root.groups["b"].checks["second"].fails == 1


def test_abort_on_fail_becomes_a_stop_request_not_a_call_into_the_engine() -> None:
    class Gate(Plain):
        thresholds = {"http_req_duration": [{"threshold": "p(95)<10", "abortOnFail": True}]}

    res, _, rec = make(specs=[ScenarioSpec("plain", Gate, Gate.executor)])
    request(rec, 5.0)
    res.ingest(rec.drain())
    assert res.tick(2.0) is None
    for _ in range(20):
        request(rec, 50.0)
    res.ingest(rec.drain())
    assert res.tick(4.0) == StopRequest(ABORT_REASON, ExitCode.THRESHOLDS_FAILED)


def test_a_test_type_that_knows_its_answer_asks_once_to_stop() -> None:
    class Knows(TestType):
        executor = ConstantVUs(vus=1, duration="10s")
        calls = 0

        @classmethod
        def monitor(cls, view: Any) -> str | None:
            cls.calls += 1
            return "answer found"

    now = [0]
    res, _, _ = make(specs=[ScenarioSpec("knows", Knows, Knows.executor)], now=now)
    assert res.tick(2.0) is None  # the engine has not said when the executors started
    res.exec_started(0)
    now[0] = 3 * S
    assert res.tick(2.0) == StopRequest("answer found", ExitCode.OK)
    assert res.tick(4.0) is None
    assert Knows.calls == 2


def test_finish_judges_writes_every_file_and_returns_the_exit_code(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export, hs, nd = tmp_path / "e.json", tmp_path / "h.json", tmp_path / "o.ndjson"
    cfg = ResultsConfig(summary_export=str(export), summary_json=str(hs),
                        outputs=[f"json={nd}"])
    res, _, rec = make(cfg)
    for ms in (5.0, 500.0, 600.0):
        request(rec, ms)
    res.ingest(rec.drain())
    code = res.finish(Outcome(ExitCode.OK, 3 * S))
    assert code == ExitCode.THRESHOLDS_FAILED
    data = json.loads(export.read_text())
    assert data["metrics"]["http_req_duration"]["thresholds"] == {"p(95)<100": True}
    assert data["metrics"]["http_reqs"]["count"] == 3
    assert json.loads(hs.read_text())["loadgen"]["outcome"]["exit_code"] == 0
    lines = [json.loads(line) for line in nd.read_text().splitlines()]
    assert sum(1 for x in lines if x["type"] == "Point" and x["metric"] == "http_reqs") == 3
    out = capsys.readouterr().out
    assert "http_req_duration" in out and "✗" in out
    res.close()  # idempotent after finish


def test_no_summary_still_judges() -> None:
    res, _, rec = make(ResultsConfig(no_summary=True))
    request(rec, 500.0)
    res.ingest(rec.drain())
    assert res.finish(Outcome(ExitCode.OK, S)) == ExitCode.THRESHOLDS_FAILED
    assert res.summary is None


def test_a_worse_run_exit_code_is_kept() -> None:
    res, _, rec = make(ResultsConfig(no_summary=True))
    request(rec, 500.0)
    res.ingest(rec.drain())
    assert res.finish(Outcome(ExitCode.EXTERNAL_ABORT, S)) == ExitCode.EXTERNAL_ABORT


def test_every_configuration_problem_is_listed_at_once(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("nope_metric: ['p(95)<1']\n")
    with pytest.raises(ConfigError) as e:
        make(ResultsConfig(trend_stats=("p(200)",), threshold_files=[str(bad)]))
    text = str(e.value)
    assert "p(200)" in text and "nope_metric" in text


def test_open_model_views_are_kept_per_arrival_rate_scenario() -> None:
    res, reg, rec = make(specs=[ScenarioSpec("open", Open, Open.executor)])
    t = tagset(scenario="open", group="")
    for ms in (1.0, 2.0, 3.0):
        rec.sample(reg["iteration_lag"], ms, t, 1)
    rec.sample(reg["dropped_iterations"], 4.0, t, 1)
    res.ingest(rec.drain())
    view = res.open_model.values()["open"]
    assert view["dropped_iterations"] == 4
    assert view["iteration_lag"]["max"] == 3.0


def test_the_store_tally_hook_sees_each_tag_set_once_per_batch() -> None:
    reg, rec = Registry(), Recorder()
    store = Store(reg)
    seen: list[Any] = []
    store.add_tally_hook([reg["checks"]], seen.extend)
    a, b = tags(check="a"), tags(check="b")
    for v, ts in ((1.0, b), (0.0, a), (1.0, b), (1.0, a), (0.0, b)):
        rec.sample(reg["checks"], v, ts, 1)
    rec.sample(reg["iterations"], 1.0, a, 1)
    store.ingest(rec.drain())
    assert [(pos, dict(ts)["check"], nz, n) for pos, _, ts, nz, n in seen] == [
        (0, "b", 2, 3), (1, "a", 1, 2)]


def test_a_latency_gate_never_passes_on_no_samples(capsys: pytest.CaptureFixture[str]) -> None:
    """k6 passes p(95)<100 on an empty trend: a target that never answered passes."""

    class Gates(Plain):
        thresholds = {"http_req_duration": ["p(95)<100"], "http_req_failed": ["rate<0.01"],
                      "http_reqs{status:500}": ["count<1"]}

    res, _, _ = make(specs=[ScenarioSpec("plain", Gates, Gates.executor)])
    assert res.finish(Outcome(ExitCode.OK, S)) == ExitCode.THRESHOLDS_FAILED
    assert res.judgement is not None
    assert res.judgement.thresholds["http_req_duration"] == [("p(95)<100", False)]
    assert res.judgement.thresholds["http_req_failed"] == [("rate<0.01", False)]
    assert res.judgement.thresholds["http_reqs{status:500}"] == [("count<1", True)]
    out = capsys.readouterr().out
    assert "http_req_duration: no samples at all" in out and "k6 would pass p(95)<100" in out


def test_an_empty_threshold_says_no_samples_on_its_line_and_in_the_log(
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """Not k6's `p(95)=0s` beside the ✗ (which reads as a fast target), and logged too, so a
    run with --no-summary still says why it failed."""

    class Gates(Plain):
        thresholds = {"http_req_duration": ["p(95)<100"], "http_req_failed": ["rate<0.01"]}

    res, _, _ = make(specs=[ScenarioSpec("plain", Gates, Gates.executor)])
    with caplog.at_level("WARNING", logger="loadgen"):
        assert res.finish(Outcome(ExitCode.OK, S)) == ExitCode.THRESHOLDS_FAILED
    out = capsys.readouterr().out
    assert "✗ 'p(95)<100' (no samples: nothing to judge, counted as failed)" in out
    assert "✗ 'rate<0.01' (no samples: nothing to judge, counted as failed)" in out
    assert "✗ 'p(95)<100' p(95)=0s" not in out
    logged = [r.getMessage() for r in caplog.records]
    assert any("http_req_duration: no samples at all" in m for m in logged), logged
    assert any("http_req_failed: no samples at all" in m for m in logged), logged


def test_who_was_slow_generator_or_target() -> None:
    """Dropped iterations with on-time starts and a calm loop: the target was slow. Late
    starts, or drops while the loop was saturated: the generator did not keep up."""
    calm = GeneratorWatch(Registry(), Recorder(), tagset())
    for i in range(4):
        calm.observe(float(i), 0.05, 0.5, i, worst_ms=2.0)
    hot = GeneratorWatch(Registry(), Recorder(), tagset())
    for i in range(4):
        hot.observe(float(i), 0.99, 40.0, i, worst_ms=250.0)

    drops = {"s": {"iteration_lag": {"p(95)": 2.2}, "dropped_iterations": 281}}
    [target] = schedule_warnings(drops, calm)
    assert target.startswith("scenario s: the target was slow, not the generator: 281 "
                             "iterations dropped")
    assert "iteration_lag p95 2.2 ms, loop lag up to 2.0 ms, CPU up to 5%" in target
    assert "did not keep" not in target

    [gen] = schedule_warnings(drops, hot)
    assert gen.startswith("scenario s: the generator did not keep the arrival schedule")
    assert "loop lag up to 250.0 ms, CPU up to 99%" in gen

    late = {"s": {"iteration_lag": {"p(95)": 350.0}, "dropped_iterations": 0}}
    [gen] = schedule_warnings(late, calm)
    assert "the generator did not keep the arrival schedule (iteration_lag p95 350.0" in gen
    assert schedule_warnings({"s": {"iteration_lag": {"p(95)": 1.0}}}, calm) == []
