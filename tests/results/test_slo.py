"""Per-endpoint SLO budgets: `slo:` in a threshold file and `slo = {...}` on a scenario
expand to sub-metric thresholds; bad budgets are listed at once (exit 104)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from results_helpers import S, make, tags

from loadgen import ConstantVUs, Scenario
from loadgen.errors import ConfigError, ExitCode
from loadgen.execution.engine import Outcome, ScenarioSpec
from loadgen.results.config import ResultsConfig
from loadgen.slo import expand, parse_slo
from loadgen.testtypes import Baseline
from loadgen.thresholds import load_threshold_file, run_budgets

EXAMPLE = Path(__file__).parents[2] / "thresholds" / "slo_example.yaml"


def test_budgets_expand_to_sub_metric_thresholds() -> None:
    got = expand(parse_slo({"messages": {"p95": 200, "p99": 400, "error_rate": 0.01},
                            "dash": {"p99.9": 900, "max": 2000}}, "t"))
    assert got == {"http_req_duration{name:messages}": ["p(95)<200", "p(99)<400"],
                   "http_req_failed{name:messages}": ["rate<0.01"],
                   "http_req_duration{name:dash}": ["p(99.9)<900", "max<2000"]}


def test_the_team_example_file_loads_with_its_budgets() -> None:
    raw = load_threshold_file(EXAMPLE)
    assert raw["http_req_duration{name:dashboard}"] == ["p(95)<300", "p(99)<500"]
    assert raw["http_req_duration{name:messages}"] == ["p(95)<200", "p(99)<400"]
    assert raw["http_req_duration{name:revenue}"] == ["p(95)<500", "p(99)<1000"]
    assert run_budgets([], [str(EXAMPLE)])["revenue"] == {"p95": 500, "p99": 1000}


def test_a_url_name_with_colons_is_selectable(tmp_path: Path) -> None:
    from loadgen.metrics.selectors import parse_selector

    (key,) = expand(parse_slo({"http://127.0.0.1:8000/x": {"p95": 1}}, "t"))
    assert parse_selector(key).tags == (("name", "http://127.0.0.1:8000/x"),)


def test_a_file_mixes_slo_with_plain_thresholds(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("http_req_duration{name:m}:\n  - avg<50\nslo:\n  m: {p95: 200}\n")
    assert load_threshold_file(f) == {"http_req_duration{name:m}": ["avg<50", "p(95)<200"]}


@pytest.mark.parametrize(("section", "needle"), [
    ({"m": {"p95": 200, "p42x": 1}}, "unknown stat 'p42x'"),
    ({"m": {"mean": 1}}, "unknown stat 'mean'"),
    ({"m": {"p95": -5}}, "cannot be negative"),
    ({"m": {"p95": "fast"}}, "must be a number"),
    ({"m": {"error_rate": 2}}, "fraction from 0 to 1"),
    ({"m": [200, 400]}, "expected a mapping of stat to budget"),
    (["m"], "slo must be a mapping"),
    ({"a,b": {"p95": 1}}, "cannot be selected"),
    ({" a": {"p95": 1}}, "cannot be selected"),
])
def test_bad_budgets_are_named(section: object, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_slo(section, "threshold file t.yaml")
    assert any(needle in p for p in e.value.problems), e.value.problems


def test_every_bad_budget_is_listed_at_once(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("slo:\n  a: {p95: -1}\n  b: {nope: 3}\n")
    with pytest.raises(ConfigError) as e:
        load_threshold_file(f)
    assert len(e.value.problems) == 2 and all(str(f) in p for p in e.value.problems)


class WithSlo(Scenario):
    executor = ConstantVUs(vus=1, duration="10s")
    thresholds = {"http_req_duration": ["p(95)<1000"]}
    slo = {"messages": {"p95": 200, "error_rate": 0.01}}


class BaselineWithSlo(Baseline):
    slo = {"messages": {"p99": 400}}


def test_a_scenario_slo_adds_to_its_thresholds_and_test_types_keep_their_defaults() -> None:
    got = WithSlo.effective_thresholds()
    assert got["http_req_duration"] == ["p(95)<1000"]
    assert got["http_req_duration{name:messages}"] == ["p(95)<200"]
    assert got["http_req_failed{name:messages}"] == ["rate<0.01"]
    base = BaselineWithSlo.effective_thresholds()
    assert "http_req_duration" in base and "http_req_failed" in base
    assert base["http_req_duration{name:messages}"] == ["p(99)<400"]


def test_a_bad_scenario_slo_is_a_config_error_naming_the_scenario() -> None:
    bad = type("Bad", (WithSlo,), {"slo": {"messages": {"p95": -1}}})
    with pytest.raises(ConfigError, match="scenario Bad: slo.messages.p95"):
        bad.effective_thresholds()


def test_a_broken_budget_fails_the_run_and_budgets_are_in_the_summary_data(
        tmp_path: Path) -> None:
    hs = tmp_path / "h.json"
    spec = ScenarioSpec("with_slo", WithSlo, WithSlo.executor)
    res, reg, rec = make(ResultsConfig(summary_json=str(hs)), specs=[spec])
    for ms in (50.0, 300.0, 350.0):  # p95 over the 200 ms budget of `messages`
        rec.http(1, tags(name="messages", expected_response="true"), ms, 0, 0, 0, 0, ms, 0, 0)
    res.ingest(rec.drain())
    assert res.finish(Outcome(ExitCode.OK, S)) == ExitCode.THRESHOLDS_FAILED
    assert res.judgement is not None and res.judgement.evaluation is not None
    assert res.judgement.evaluation.breached == ["http_req_duration{name:messages}"]

    section = json.loads(hs.read_text())["loadgen"]
    assert section["slo"] == {"messages": {"p95": 200, "error_rate": 0.01}}


def test_a_bad_scenario_slo_is_listed_with_the_plans_problems() -> None:
    from loadgen.metrics.registry import Registry
    from loadgen.results.judge import threshold_problems

    bad = type("Bad", (WithSlo,), {"slo": {"messages": {"p95": -1}}})
    problems = threshold_problems(Registry(), [bad], [])
    assert problems == ["scenario Bad: slo.messages.p95: a budget cannot be negative, got -1"]
