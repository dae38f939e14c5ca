"""`loadgen check`: thresholds judged from a saved summary (k6 export or handleSummary)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from summary_goldens import BASIC_THRESHOLDS as BASIC
from summary_goldens import GOLDEN, golden_json

from loadgen.commands.check import check_summary, load_summary_file, read_summary
from loadgen.errors import ConfigError


@pytest.mark.parametrize("golden", ["basic_summary_export.json", "handle_summary_data.json"])
def test_same_verdicts_as_k6_on_real_summaries(golden: str) -> None:
    res = check_summary(load_summary_file(GOLDEN / golden), BASIC)
    assert res.problems == []
    assert {(v.metric, v.source): v.ok for v in res.verdicts} == {
        ("http_req_duration", "p(95)<500"): True, ("http_req_duration", "avg<200"): True,
        ("http_req_duration{status:200}", "max<1000"): True,
        ("http_req_failed", "rate<0.5"): True, ("checks", "rate>0.9"): False,
        ("my_counter", "count>1"): True, ("my_gauge", "value<100"): True,
        ("my_rate", "rate>0.1"): True, ("my_trend", "med>0"): True,
    }
    assert res.exit_code == 99
    assert "✗ checks 'rate>0.9' rate=75.00%\n" in res.render()


def test_passing_thresholds_exit_0() -> None:
    doc = golden_json("basic_summary_export.json")
    res = check_summary(doc, {"http_reqs": ["count==18", "rate>100"],
                              "http_req_duration{ status : '200' }": ["p(90) < 21"],
                              "iteration_duration": ["p(95.0)<30"]})
    assert res.exit_code == 0, res.render()
    assert [v.metric for v in res.verdicts][2] == "http_req_duration{status:200}"


def test_unanswerable_thresholds_exit_104_with_clear_messages() -> None:
    doc = golden_json("basic_summary_export.json")
    res = check_summary(doc, {
        "http_req_duration": ["p(99)<1000", "p(95)<500"],
        "no_such_metric": ["count>0"],
        "http_reqs": ["p(95)<1"],
        "checks": ["nonsense"],
    })
    assert res.exit_code == 104
    assert len(res.problems) == 2 and len(res.undecidable) == 2
    assert any("has no p(99)" in p and "--summary-trend-stats" in p for p in res.undecidable)
    assert any("no metric 'no_such_metric'" in p for p in res.undecidable)
    assert any("aggregation p is not supported on a counter" in p for p in res.problems)
    assert len(res.verdicts) == 1  # the answerable p(95) is still reported


@pytest.mark.parametrize("golden", ["basic_summary_export.json", "handle_summary_data.json"])
def test_a_clear_failure_is_99_even_beside_an_undecidable_threshold(golden: str) -> None:
    """A failure is a failure: one threshold that fails and one the summary cannot answer
    used to exit 104 (configuration error), hiding the failure from a CI gate."""
    res = check_summary(load_summary_file(GOLDEN / golden), {
        "http_req_duration": ["p(95)<1", "p(99.99)<1000"]})
    assert res.exit_code == 99
    out = res.render()
    assert "✗ http_req_duration 'p(95)<1' p(95)=" in out
    assert "? cannot evaluate 'p(99.99)<1000' on http_req_duration" in out
    # nothing failed, one undecidable: still never a silent pass
    assert check_summary(load_summary_file(GOLDEN / golden), {
        "http_req_duration": ["p(95)<1000", "p(99.99)<1000"]}).exit_code == 104


@pytest.mark.parametrize("golden", ["basic_summary_export.json", "handle_summary_data.json"])
def test_values_are_shown_as_the_run_summary_shows_them(golden: str) -> None:
    """Times in ms/s, rates in %, data in kB, counters with /s: not raw floats."""
    res = check_summary(load_summary_file(GOLDEN / golden), {
        "http_req_duration": ["p(95)<500"], "http_req_failed": ["rate<0.5"],
        "data_received": ["rate>0"], "http_reqs": ["count>0"]})
    shown = {v.metric: f"{v.aggregation}={v.shown()}" for v in res.verdicts}
    assert re.fullmatch(r"p\(95\)=\d+(\.\d+)?(ms|s|µs)", shown["http_req_duration"]), shown
    assert re.fullmatch(r"rate=\d+\.\d\d%", shown["http_req_failed"]), shown
    assert re.fullmatch(r"rate=\d+(\.\d+)? (B|kB|MB)/s", shown["data_received"]), shown
    assert re.fullmatch(r"count=\d+", shown["http_reqs"]), shown


def test_types_inferred_from_export_shapes() -> None:
    m = read_summary(golden_json("quirks_summary_export.json"))
    assert {k: v.type.value for k, v in m.items() if k != "iterations"} == {
        "neg_gauge": "gauge", "num_rate": "rate", "tiny_trend": "trend",
        "frac_counter": "counter", "data_sent": "counter", "data_received": "counter",
        "iteration_duration": "trend"}
    assert m["num_rate"].values["rate"] == 0.6


def test_empty_rate_passes() -> None:
    doc = {"metrics": {"r": {"passes": 0, "fails": 0, "value": 0}}}
    res = check_summary(doc, {"r": ["rate>0.5"]})
    assert res.exit_code == 0 and res.verdicts[0].value is None


def test_bad_files(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text("[1]", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        load_summary_file(p)
    p.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_summary_file(p)
    with pytest.raises(ConfigError, match="no 'metrics'"):
        check_summary({}, {})
    with pytest.raises(ConfigError):
        load_summary_file(tmp_path / "missing.json")


def test_a_null_trend_statistic_is_unserved_and_fails() -> None:
    """loadgen writes an open-model percentile that falls among dropped/interrupted
    iterations as null (JSON has no infinity): re-judged, it fails as it did in the run."""
    doc = {"metrics": {"iteration_latency": {"avg": 5.0, "min": 1.0, "med": 3.0,
                                            "max": None, "p(90)": 9.0, "p(95)": None}}}
    res = check_summary(doc, {"iteration_latency": ["p(95)<1000", "p(90)<1000"]})
    assert not res.problems
    assert [v.ok for v in res.verdicts] == [False, True]
    assert "p(95)=unserved" in res.render()
    assert res.exit_code == 99
