"""`loadgen compare`'s judgement: direction-aware deltas, `--fail-on` rules (and the default
set), the table's colours and the JSON for scripts."""

from __future__ import annotations

import json
import math
import re

import pytest
from history_fixtures import endpoint, record

from loadgen.errors import ConfigError
from loadgen.history.compare import (
    DEFAULT_RULES,
    compare,
    direction,
    parse_rule,
    parse_rules,
    relative,
    render,
)


def rows_by(cmp, name: str, stat: str):  # type: ignore[no-untyped-def]
    [row] = [r for r in cmp.rows if r.key[1] == name and r.stat == stat]
    return row


def test_directions() -> None:
    assert direction(("metric", "http_req_duration"), "p95") == -1
    assert direction(("metric", "http_reqs"), "rate") == 1
    assert direction(("metric", "http_req_failed"), "value") == -1
    assert direction(("metric", "checks"), "value") == 1
    assert direction(("metric", "dropped_iterations"), "rate") == -1
    assert direction(("endpoint", "messages"), "error_rate") == -1
    assert direction(("endpoint", "messages"), "rate") == 1
    assert direction(("metric", "vus"), "last") == 0


@pytest.mark.parametrize(("rule", "base", "cur", "broken"), [
    ("p95>+10%", 100, 111, True), ("p95>+10%", 100, 110, False),
    ("p95>+10%", 100, 50, False), ("rate<-10%", 100, 89, True), ("rate<-10%", 100, 95, False),
    ("error_rate>+1pp", 0.001, 0.02, True), ("error_rate>+1pp", 0.001, 0.01, False),
    ("p99>+50ms", 100, 151, True), ("p99>+50ms", 100, 149, False),
    ("p95>+10%", 0, 5, True), ("p95>+10%", 100, math.inf, True),
])
def test_rules(rule: str, base: float, cur: float, broken: bool) -> None:
    assert parse_rule(rule).broken(base, cur) is broken


@pytest.mark.parametrize(("text", "message"), [
    ("p95 > lots", "not a rule"), ("p42>+10%", "unknown statistic 'p42'"),
    ("rate>+5ms", "ms is for latencies"), ("p95>+1pp", "pp (percentage points)"),
])
def test_bad_rules_are_named(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_rules([text, "p95>+10%"])


def test_default_rules_catch_a_slower_endpoint_and_not_a_faster_one() -> None:
    base = record(p95=100, endpoints=[endpoint("messages", 100), endpoint("login", 50)])
    cur = record(p95=105, endpoints=[endpoint("messages", 130), endpoint("login", 20)])
    cmp = compare(base, cur, parse_rules([]))
    assert [r.source for r in cmp.rules] == list(DEFAULT_RULES)
    assert [(r.key, r.stat) for r in cmp.regressions] == [
        (("endpoint", "messages"), "p95"), (("endpoint", "messages"), "p99")]
    assert cmp.exit_code == 99
    assert rows_by(cmp, "login", "p95").judgement == "better"
    assert rows_by(cmp, "messages", "p95").judgement == "worse"
    assert compare(base, base, parse_rules([])).exit_code == 0


def test_targeted_rules_and_throughput() -> None:
    base, cur = record(p95=100, rate=100), record(p95=100, rate=80, failed=0.05)
    cmp = compare(base, cur, parse_rules(["http_reqs.rate<-10%", "http_req_failed.value>+2pp"]))
    assert {(r.key[1], r.stat) for r in cmp.regressions} == {
        ("http_reqs", "rate"), ("http_req_failed", "value")}
    untargeted = compare(base, cur, parse_rules(["error_rate>+2pp"]))
    assert [(r.key[1], r.stat) for r in untargeted.regressions] == [("http_req_failed", "value")]


def test_a_rule_for_one_endpoint() -> None:
    base = record(endpoints=[endpoint("GET /a.b", 100), endpoint("other", 100)])
    cur = record(endpoints=[endpoint("GET /a.b", 200), endpoint("other", 200)])
    cmp = compare(base, cur, parse_rules(["endpoint:GET /a.b.p95>+10%"]))
    assert [(r.key, r.stat) for r in cmp.regressions] == [(("endpoint", "GET /a.b"), "p95")]


def test_rows_only_on_one_side_are_notes_not_failures() -> None:
    cmp = compare(record(endpoints=[endpoint("gone", 10)]), record(endpoints=[]), parse_rules([]))
    assert cmp.notes == ["endpoint gone: only in the base run"] and cmp.exit_code == 0


def test_table_colours_worse_red_better_green_and_json() -> None:
    cmp = compare(record(p95=100, rate=50), record(p95=150, rate=60), parse_rules([]))
    text = render(cmp, color=True)
    [p95_line] = [ln for ln in text.splitlines() if " p95 " in ln]
    [rate_line] = [ln for ln in text.splitlines() if " rate " in ln]
    assert p95_line.startswith("\x1b[31m✗") and "+50.0%" in p95_line
    assert rate_line.startswith("\x1b[32m") and "+20.0%" in rate_line
    assert "\x1b[" not in render(cmp, color=False)
    doc = json.loads(json.dumps(cmp.to_json()))
    assert doc["exit_code"] == 99
    assert {"name": "http_req_duration", "scope": "metric", "stat": "p95",
            "rules": ["p95>+10%"]} in doc["regressions"]


def test_relative() -> None:
    assert relative(0, 0) == 0 and relative(0, 1) == math.inf and relative(2, 3) == 0.5
    assert relative(math.inf, math.inf) == 0 and relative(2, math.inf) == math.inf
