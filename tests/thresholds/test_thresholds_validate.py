"""Validation: every problem at once, in k6's words (k6-compat.md §3.2, exit 104)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loadgen.errors import ConfigError
from loadgen.metrics.model import MetricType
from loadgen.metrics.registry import BUILTINS
from loadgen.thresholds import parse, validate

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
TYPES = {name: t for name, (t, _) in BUILTINS.items()} | {
    "my_counter": MetricType.COUNTER, "my_gauge": MetricType.GAUGE,
    "my_rate": MetricType.RATE, "my_trend": MetricType.TREND,
}


def k6_message(golden: str) -> str:
    """The msg="..." of a k6 log line, unescaped."""
    line = (GOLDEN / golden).read_text(encoding="utf-8")
    m = re.search(r'msg="((?:[^"\\]|\\.)*)"', line)
    assert m
    return m.group(1).replace('\\"', '"')


@pytest.mark.parametrize(
    ("raw", "golden"),
    [
        ({"http_reqs": ["p(95)<100"]}, "exit_bad_threshold_agg.txt"),
        ({"http_req_duration": ["p95 < 100"]}, "exit_bad_threshold_expr.txt"),
        ({"no_such_metric": ["count>0"]}, "exit_bad_threshold_metric.txt"),
    ],
)
def test_messages_match_k6(raw: dict[str, list[str]], golden: str) -> None:
    assert validate(raw, TYPES) == [k6_message(golden)]


@pytest.mark.parametrize(
    ("mtype", "metric", "bad", "supported"),
    [
        (MetricType.COUNTER, "my_counter", "avg>1", "count, rate"),
        (MetricType.GAUGE, "my_gauge", "rate>1", "value, min, max"),
        (MetricType.RATE, "my_rate", "count>1", "rate"),
        (MetricType.TREND, "my_trend", "value>1", "avg, min, max, med, p"),
        (MetricType.TREND, "my_trend", "count>1", "avg, min, max, med, p"),
    ],
)
def test_wrong_aggregation_per_type(mtype: MetricType, metric: str, bad: str,
                                    supported: str) -> None:
    method = bad.split(">")[0]
    assert validate({metric: [bad]}, TYPES) == [
        f'invalid threshold "{bad}" applied on metric {metric}; reason: unsupported aggregation '
        f"method {method} on metric of type {mtype.value}. supported aggregation methods for "
        f"this metric are: {supported}"
    ]


@pytest.mark.parametrize(
    ("metric", "good"),
    [("my_counter", ["count>1", "rate<2"]), ("my_gauge", ["value<1"]), ("my_rate", ["rate>0"]),
     ("my_trend", ["avg<1", "min<1", "max<1", "med<1", "p(99.9)<1", "p(0)>=0"])],
)
def test_supported_aggregations(metric: str, good: list[str]) -> None:
    assert validate({metric: good}, TYPES) == []


def test_all_problems_at_once() -> None:
    raw = {
        "http_reqs": ["p(95)<100", "count>0", "nonsense"],
        "nope": ["count>0"],
        "http_req_duration{status:200": ["max<1"],
        "checks": ["rate>0.9", {"threshold": "rate<2", "abortOnFail": "yes"}],
        "my_gauge": "value<1",
        "my_rate": [5],
    }
    problems = validate(raw, TYPES)
    assert len(problems) == 7, problems
    with pytest.raises(ConfigError) as info:
        parse(raw, TYPES)
    assert info.value.problems == problems
    assert info.value.exit_code == 104
    assert info.value.render().startswith(
        "There were problems with the specified script configuration:\n\t- ")


def test_unknown_submetric_parent_uses_full_key() -> None:
    assert validate({"nope{a:b}": ["count>0"]}, TYPES) == [
        'invalid threshold defined on nope{a:b}; reason: no metric name "nope{a:b}" found']


def test_object_form_mixed_with_strings() -> None:
    tset = parse({"http_req_failed": [
        {"threshold": "rate<0.01", "abortOnFail": True, "delayAbortEval": "10s"},
        "rate<0.9",
        {"threshold": "rate<0.5"},
    ]}, TYPES)
    specs = tset.metrics[0].specs
    assert [s.source for s in specs] == ["rate<0.01", "rate<0.9", "rate<0.5"]
    assert [s.abort_on_fail for s in specs] == [True, False, False]
    assert specs[0].delay_abort_eval_ns == 10_000_000_000
    assert specs[2].delay_abort_eval_ns is None


@pytest.mark.parametrize(("text", "ns"), [("10s", 10 * 10**9), ("1m30s", 90 * 10**9),
                                          ("500ms", 5 * 10**8), ("1h", 3600 * 10**9),
                                          (5, 5 * 10**9), (2.5, 2.5 * 10**9)])
def test_delay_abort_eval_forms(text: object, ns: int) -> None:
    tset = parse({"checks": [{"threshold": "rate>0", "abortOnFail": True,
                              "delayAbortEval": text}]}, TYPES)
    assert tset.metrics[0].specs[0].delay_abort_eval_ns == ns


def test_bad_delay_is_a_problem() -> None:
    problems = validate({"checks": [{"threshold": "rate>0", "delayAbortEval": "xx"}]}, TYPES)
    assert len(problems) == 1 and "delayAbortEval" in problems[0]


def test_keys_keep_spacing_and_submetrics_merge_by_tags() -> None:
    tset = parse({
        'http_req_duration{ status : "404" }': ["max  >=  0"],
        "http_req_duration{status:404}": ["p(99)<5"],
        "http_req_duration": ["avg<1"],
    }, TYPES)
    names = [m.name for m in tset.metrics]
    assert names == ['http_req_duration{status : "404"}', "http_req_duration"]
    sub = tset.metrics[0]
    assert [s.source for s in sub.specs] == ["max  >=  0", "p(99)<5"]
    assert (sub.parent, sub.suffix, sub.tags) == (
        "http_req_duration", 'status : "404"', (("status", "404"),))
    assert [m.name for m in tset.submetrics()] == [sub.name]
    assert tset.by_metric()["http_req_duration"][0].source == "avg<1"
    assert tset.results() == {sub.name: [("max  >=  0", True), ("p(99)<5", True)],
                              "http_req_duration": [("avg<1", True)]}
    assert tset.get("nope") is None


def test_gauges_also_take_min_and_max_beyond_k6():
    """k6 accepts only `value` on gauges; loadgen also takes min/max so a scraped lag can be
    gated as users write it (`messaging_consumer_lag_seconds: ["max<5"]`)."""
    assert validate({"my_gauge": ["max<5", "min>0", "value<3"]}, TYPES) == []
