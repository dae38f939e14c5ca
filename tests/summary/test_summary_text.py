"""The compact text summary, byte for byte against real k6 v1.1.0 output (§2.3-2.4).

Values always come from files: real k6 exports where the run produced one, otherwise
handleSummary-shaped fixtures in tests/golden/ reconstructed from the golden text (see
tests/golden/README.md), or sinks filled by the test.
"""

from __future__ import annotations

import pytest
from summary_goldens import assert_summary_in, export_to_data, golden_json

from loadgen.metrics.model import Contains, MetricType
from loadgen.metrics.sinks import CounterSink, ExactTrendSink, new_sink
from loadgen.summary.build import MetricEntry, SummaryOptions, build_summary
from loadgen.summary.groups import FlatCheck, GroupTree
from loadgen.summary.text import render_summary_text, render_text, section_of

BASIC_CUSTOM = {"my_trend": ("trend", "default"), "my_time_trend": ("trend", "time"),
                "my_rate": ("rate", "default"), "my_counter": ("counter", "default"),
                "my_gauge": ("gauge", "default")}


def test_basic_from_real_export() -> None:
    data = export_to_data(golden_json("basic_summary_export.json"), custom=BASIC_CUSTOM)
    assert_summary_in(render_text(data), "basic_stdout.txt")


def test_compact_golden() -> None:
    assert_summary_in(render_text(golden_json("text_summary_compact_data.json")),
                      "text_summary_compact.txt")


def test_trend_stats_and_time_unit() -> None:
    data = export_to_data(golden_json("trendstats_summary_export.json"),
                          trend_stats=["avg", "min", "med", "max", "p(90)", "p(99)", "p(99.9)",
                                       "count"],
                          time_unit="ms")
    assert_summary_in(render_text(data), "trendstats_stdout.txt")


def test_quirks() -> None:
    data = export_to_data(
        golden_json("quirks_summary_export.json"),
        custom={"neg_gauge": ("gauge", "default"), "num_rate": ("rate", "default"),
                "tiny_trend": ("trend", "default"), "frac_counter": ("counter", "default")},
        trend_stats=["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "p(0)", "p(100)",
                     "count"])
    assert_summary_in(render_text(data), "quirks_stdout.txt")


def test_operators_spacing_and_not_equal_display_quirk() -> None:
    export = golden_json("ops_summary_export.json")
    data = export_to_data(export, custom={"cc": ("counter", "default")})
    # p(99) and p(99.99) are threshold-only: not in the export; recompute them from the
    # three samples, which min/med/max of the export determine.
    v = export["metrics"]["http_req_duration"]
    sink = ExactTrendSink()
    for x in (v["min"], v["med"], v["max"]):
        sink.add(x)
    assert sink.aggregate("p(95)", 0) == v["p(95)"]
    extra = {"http_req_duration": {"p(99)": sink.percentile(99),
                                   "p(99.99)": sink.percentile(99.99)}}
    out = render_text(data, threshold_values=extra)
    assert "✓ 'count!=0' count!=734.621795/s" in out
    assert_summary_in(out, "exit_ops.txt")


def test_websocket_section() -> None:
    assert_summary_in(render_text(export_to_data(golden_json("ws_summary_export.json"))),
                      "ws_stdout.txt")


def test_selectors_sorting_and_submetric_names() -> None:
    assert_summary_in(render_text(golden_json("selectors_data.json")), "selectors_stdout.txt")


def _counter(v: float) -> CounterSink:
    c = CounterSink()
    c.add(v)
    return c


def _trend(*vs: float) -> ExactTrendSink:
    t = ExactTrendSink()
    for v in vs:
        t.add(v)
    return t


def test_no_samples_from_sinks() -> None:
    """ec/no_samples.js: thresholds on empty metrics, all shown with zero values."""
    C, T, G, R = MetricType.COUNTER, MetricType.TREND, MetricType.GAUGE, MetricType.RATE
    ms, d = Contains.TIME, Contains.DATA
    entries = {
        "c_empty": MetricEntry(C, thresholds=[("count>0", False)]),
        "t_empty": MetricEntry(T, thresholds=[("p(95)<100", True), ("avg>1", False)]),
        "r_empty": MetricEntry(R, thresholds=[("rate>0.5", True)]),
        "g_empty": MetricEntry(G, thresholds=[("value>1", False)]),
        "http_req_duration": MetricEntry(T, ms),
        "http_req_duration{scenario:nope}": MetricEntry(T, ms, thresholds=[("max<100", True)]),
        "http_reqs": MetricEntry(C),
        "http_reqs{status:500}": MetricEntry(C, thresholds=[("count<1", True)]),
        "http_req_failed": MetricEntry(R),  # no requests: not observed, not shown
        "iteration_duration": MetricEntry(T, ms, _trend(0.00298)),
        "iterations": MetricEntry(C, sink=_counter(1)),
        "data_received": MetricEntry(C, d, _counter(0)),
        "data_sent": MetricEntry(C, d, _counter(0)),
    }
    s = build_summary(entries, GroupTree(), test_run_duration_ms=1000 / 11230.655196)
    assert_summary_in(render_summary_text(s), "exit_no_samples.txt")


def test_prefix_based_sections_and_hiding() -> None:
    """prefix.js: checks_foo hidden, http_reqs_custom in HTTP, vus_extra in EXECUTION..."""
    C, T = MetricType.COUNTER, MetricType.TREND
    entries = {name: MetricEntry(C, sink=_counter(1)) for name in
               ("checks_foo", "http_reqs_custom", "vus_extra", "data_sent_x", "mycustom",
                "iterations")}
    entries["iteration_duration"] = MetricEntry(T, Contains.TIME, _trend(0.06192))
    entries["data_received"] = MetricEntry(C, Contains.DATA, _counter(0))
    entries["data_sent"] = MetricEntry(C, Contains.DATA, _counter(0))
    s = build_summary(entries, GroupTree(), test_run_duration_ms=1000 / 5536.240229)
    assert_summary_in(render_summary_text(s), "prefix_stdout.txt")


@pytest.mark.parametrize(
    ("name", "section"),
    [("checks", None), ("checks_foo", None), ("checks{check:x}", None),
     ("group_duration", None), ("http_req_waiting", None), ("http_req_waiting_x", None),
     ("http_req_duration", "http"), ("http_req_duration{status:200}", "http"),
     ("http_reqs_custom", "http"), ("vus", "execution"), ("vus_extra", "execution"),
     ("dropped_iterations", "execution"), ("iteration_lag", "execution"),
     ("data_sent_x", "network"), ("browser_x", "browser"),
     ("browser_web_vital_lcp", "web_vitals"), ("grpc_req_duration", "grpc"),
     ("ws_ping", "websocket"), ("my_metric", "custom"), ("http_request", "custom")],
)
def test_section_of(name: str, section: str | None) -> None:
    assert section_of(name) == section


def test_colours() -> None:
    data = golden_json("text_summary_compact_data.json")
    out = render_text(data, colors=True)
    assert "  █ \x1b[1mTHRESHOLDS\x1b[0m \n" in out
    assert "    \x1b[32m✓\x1b[0m \x1b[37m'p(95)<500'\x1b[0m \x1b[37mp(95)\x1b[0m=" in out
    assert "\x1b[31m✗ is 200 (fails)\x1b[0m\n      \x1b[31m↳  0% — ✓ 0 / ✗ 6\x1b[0m" in out
    assert "    my_counter\x1b[2;37m" + "." * 62 + ":\x1b[0m \x1b[36m18\x1b[0m" in out
    assert "    \x1b[1mCUSTOM\x1b[0m\n" in out
    plain = render_text(data)
    assert "\x1b" not in plain


def test_threshold_on_a_stat_that_is_not_shown() -> None:
    t = new_sink(MetricType.TREND)
    t.add(5.0)
    s = build_summary({"tt": MetricEntry(MetricType.TREND, sink=t,
                                         thresholds=[("max<10", True), ("p(99)<10", True)])},
                      GroupTree(), test_run_duration_ms=1000,
                      options=SummaryOptions(trend_stats=("avg",)))
    out = render_summary_text(s)
    assert "✓ 'max<10' max=\n" in out  # k6 joins `undefined` as an empty string
    assert "✓ 'p(99)<10' p(99)=5\n" in out


def test_checks_use_given_first_seen_order_merged_by_name() -> None:
    data = golden_json("text_summary_compact_data.json")
    out = render_text(data, checks=[FlatCheck("b", 2, 0), FlatCheck("a", 1, 2)])
    assert "\n    ✓ b\n    ✗ a\n      ↳  33% — ✓ 1 / ✗ 2\n" in out
