"""Building handleSummary data from sinks, thresholds and groups (k6-compat.md §0, §2.1).

The strongest check replays a real k6 run: the NDJSON stream of `basic.js` is fed into
loadgen's sinks, and the result must equal that same run's `--summary-export` and text
summary.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from summary_goldens import (
    BASIC_THRESHOLDS,
    assert_same_json,
    assert_summary_in,
    golden_json,
    ndjson_lines,
)

from loadgen.metrics.model import Contains, MetricType
from loadgen.metrics.sinks import CounterSink, GaugeSink, RateSink, Sink, new_sink
from loadgen.summary.build import (
    NO_SETUP_DATA,
    MetricEntry,
    SummaryOptions,
    build_summary,
    is_observed,
    validate_trend_stats,
)
from loadgen.summary.export import render_summary_export, summary_export
from loadgen.summary.groups import GroupTree
from loadgen.summary.text import render_summary_text
from loadgen.thresholds import evaluate, parse


def replay(ndjson: str, thresholds: dict[str, list[Any]], duration_ms: float,
           ) -> tuple[dict[str, MetricEntry], GroupTree]:
    """Feed a k6 NDJSON stream into loadgen sinks, as the engine would."""
    kinds: dict[str, tuple[MetricType, Contains]] = {}
    subs: dict[str, list[tuple[str, dict[str, str]]]] = {}
    sinks: dict[str, Sink] = {}
    tree = GroupTree()
    for rec in ndjson_lines(ndjson):
        if rec["type"] == "Metric":
            d = rec["data"]
            kinds[d["name"]] = (MetricType(d["type"]), Contains(d["contains"]))
            subs[d["name"]] = [(s["name"], s["tags"]) for s in d["submetrics"] or []]
            for sub_name, _ in subs[d["name"]]:
                kinds[sub_name] = kinds[d["name"]]
            continue
        name, value, tags = rec["metric"], rec["data"]["value"], rec["data"]["tags"]
        if tags.get("group"):
            tree.group(tags["group"])
        if name == "checks":
            tree.record(tags["group"], tags["check"], bool(value))
        sinks.setdefault(name, new_sink(kinds[name][0])).add(value)
        for sub_name, sub_tags in subs[name]:
            if all(tags.get(k) == v for k, v in sub_tags.items()):
                sinks.setdefault(sub_name, new_sink(kinds[name][0])).add(value)
    tset = parse(thresholds, {n: k[0] for n, k in kinds.items() if "{" not in n})
    evaluate(tset, sinks.get, duration_ms / 1000, final=True)
    results = tset.results()
    entries = {name: MetricEntry(t, c, sinks.get(name), results.get(name, ()))
               for name, (t, c) in kinds.items()}
    return entries, tree


def test_replayed_k6_run_equals_its_export_and_text() -> None:
    export = golden_json("basic_summary_export.json")
    it = export["metrics"]["iterations"]
    duration_ms = it["count"] / it["rate"] * 1000
    entries, tree = replay("basic_out.ndjson", BASIC_THRESHOLDS, duration_ms)
    summary = build_summary(entries, tree, test_run_duration_ms=duration_ms)
    got = json.loads(render_summary_export(summary.data))
    assert_same_json(got, export, rel=1e-12)
    assert_summary_in(render_summary_text(summary), "basic_stdout.txt")


def test_quirks_through_sinks_equal_k6_export() -> None:
    """quirks.js: gauge max=0, rate non-zero=true, linear percentiles, fractional counter."""
    want = golden_json("quirks_summary_export.json")
    it = want["metrics"]["iterations"]
    duration_ms = it["count"] / it["rate"] * 1000
    g, r, c = GaugeSink(), RateSink(), CounterSink()
    for gv in (-5, -2):
        g.add(gv)
    for rv in (5, 0, -1, False, True):
        r.add(rv)
    for cv in (0.5, -0.25):
        c.add(cv)
    t = new_sink(MetricType.TREND)
    for tv in range(1, 11):
        t.add(tv)
    d = new_sink(MetricType.TREND)
    d.add(want["metrics"]["iteration_duration"]["max"])
    it_sink = CounterSink()
    it_sink.add(1)
    empty_data = CounterSink()
    empty_data.add(0)
    T, C, G, R = MetricType.TREND, MetricType.COUNTER, MetricType.GAUGE, MetricType.RATE
    entries = {
        "neg_gauge": MetricEntry(G, sink=g), "num_rate": MetricEntry(R, sink=r),
        "tiny_trend": MetricEntry(T, sink=t), "frac_counter": MetricEntry(C, sink=c),
        "data_sent": MetricEntry(C, Contains.DATA, empty_data),
        "data_received": MetricEntry(C, Contains.DATA, empty_data),
        "iteration_duration": MetricEntry(T, Contains.TIME, d),
        "iterations": MetricEntry(C, sink=it_sink),
        "never_sampled": MetricEntry(C, sink=CounterSink()),
    }
    stats = ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "p(0)", "p(100)", "count")
    summary = build_summary(entries, GroupTree(), test_run_duration_ms=duration_ms,
                            options=SummaryOptions(trend_stats=stats))
    assert "never_sampled" not in summary.data["metrics"]
    assert_same_json(json.loads(render_summary_export(summary.data)), want, rel=1e-12)
    # exact where k6 is exact (float noise included)
    m = summary_export(summary.data)["metrics"]
    assert m["tiny_trend"]["p(95)"] == 9.549999999999999
    assert m["neg_gauge"] == {"value": -2, "min": -5, "max": 0}
    assert m["num_rate"] == {"passes": 3, "fails": 2, "value": 0.6}


def test_observed_rule() -> None:
    C, T = MetricType.COUNTER, MetricType.TREND
    sampled = CounterSink()
    sampled.add(1)
    metrics = {
        "a_sampled": MetricEntry(C, sink=sampled),
        "b_thresholded": MetricEntry(C, thresholds=[("count>0", False)]),
        "c_unused": MetricEntry(C),
        "http_req_duration": MetricEntry(T, Contains.TIME),
        "http_req_duration{scenario:nope}": MetricEntry(T, Contains.TIME,
                                                        thresholds=[("max<100", True)]),
        "http_req_duration{expected_response:true}": MetricEntry(T, Contains.TIME),
    }
    assert [n for n, e in metrics.items() if is_observed(n, e, metrics)] == [
        "a_sampled", "b_thresholded", "http_req_duration", "http_req_duration{scenario:nope}"]
    data = build_summary(metrics, GroupTree(), test_run_duration_ms=1000).data
    assert data["metrics"]["b_thresholded"] == {
        "type": "counter", "contains": "default", "values": {"count": 0, "rate": 0},
        "thresholds": {"count>0": {"ok": False}}}
    assert data["metrics"]["http_req_duration"]["values"] == {
        "avg": 0, "min": 0, "med": 0, "max": 0, "p(90)": 0, "p(95)": 0}


def test_data_shape_matches_handle_summary_golden() -> None:
    want = golden_json("handle_summary_data.json")
    tree = GroupTree.from_data(want["root_group"])
    c = CounterSink()
    c.add(3)
    summary = build_summary(
        {"my_counter": MetricEntry(MetricType.COUNTER, sink=c, thresholds=[("count>1", True)])},
        tree, test_run_duration_ms=71.449686, setup_data={"token": "abc", "n": 1})
    data = summary.data
    assert list(data) == ["root_group", "options", "state", "metrics", "setup_data"]
    assert data["root_group"] == want["root_group"]
    assert data["options"] == want["options"]
    assert data["state"] == want["state"]
    assert data["setup_data"] == want["setup_data"]
    assert data["metrics"]["my_counter"]["thresholds"] == want["metrics"]["my_counter"][
        "thresholds"]


def test_setup_data_and_loadgen_section() -> None:
    s = build_summary({}, GroupTree(), test_run_duration_ms=1)
    assert "setup_data" not in s.data and "loadgen" not in s.data
    s = build_summary({}, GroupTree(), test_run_duration_ms=1, setup_data=None,
                      extra={"version": "0.1.0"})
    assert s.data["setup_data"] is None
    assert s.data["loadgen"] == {"version": "0.1.0"}
    exported = summary_export(s.data)
    assert exported["loadgen"] == {"version": "0.1.0"} and "setup_data" in exported
    assert repr(NO_SETUP_DATA) == "NO_SETUP_DATA"


def test_threshold_percentiles_outside_trend_stats_are_kept_for_text() -> None:
    t = new_sink(MetricType.TREND)
    for v in (1.0, 2.0, 3.0):
        t.add(v)
    s = build_summary(
        {"http_req_duration": MetricEntry(MetricType.TREND, Contains.TIME, t, thresholds=[
            ("p(99)<1000", True), ("p(99.90) <= 5", True), ("max  >=  0", True)])},
        GroupTree(), test_run_duration_ms=1000)
    assert s.threshold_values == {"http_req_duration": {"p(99)": 2.98, "p(99.90)": 2.998}}
    assert "p(99)" not in s.data["metrics"]["http_req_duration"]["values"]


@pytest.mark.parametrize(
    ("stats", "problems"),
    [
        (["avg", "min", "med", "max", "count", "p(0)", "p(99.9)", "p(100)"], []),
        (["p(101)"], ["invalid percentile trend stat value 'p(101)', provide a number between "
                      "0 and 100"]),
        (["p(x)"], ["invalid percentile trend stat value 'p(x)', provide a number between "
                    "0 and 100"]),
        (["mean"], ["invalid trend stat 'mean', unknown format"]),
    ],
)
def test_validate_trend_stats(stats: list[str], problems: list[str]) -> None:
    assert validate_trend_stats(stats) == problems
