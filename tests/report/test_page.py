"""The page built from a summary carrying every shared `loadgen.*` key: each shown when
present, skipped when absent, nothing from the run ever reaching the markup unescaped."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from report_fixtures import EVIL, interval, summary_fixture
from report_page import Page

from loadgen.report.build import build_html, report_problem
from loadgen.report.collect import ReportCollector


def build(data: dict[str, Any], series: bool = True) -> str:
    c = ReportCollector()
    for s in range(3):
        c.observe(interval(float(s), {EVIL: [100.0 + s, 300.0], "/ok": [1.0, 2.0]},
                           failed={EVIL: 1}, vus=2, lag=[0.1, 0.2]))
    return build_html(data, c.finish() if series else None, exit_code=99,
                      run_info={"script": EVIL, "scenarios": [
                          {"name": EVIL, "executor": "ConstantVUs", "describe": "1 VU"}],
                          "options": {"tags": {EVIL: EVIL}}})


def test_nothing_from_the_run_reaches_the_markup_unescaped() -> None:
    text = build(summary_fixture())
    assert EVIL not in text and "<b>x</b>" not in text
    page = Page(text)
    # exactly three scripts: the data block, the library, the boot code (none injected)
    assert len(page.scripts) == 3
    assert page.scripts[0][0] == {"type": "application/json", "id": "report-data"}
    figures = json.loads(page.scripts[0][1])["figures"]
    names = [t["name"] for f in figures for t in f["data"]]
    assert any("&lt;script&gt;" in n for n in names)  # plotly shows entities as text


def test_every_shared_key_has_its_section() -> None:
    page = Page(build(summary_fixture()))
    for sid in ("verdict", "thresholds", "verdicts", "warnings", "checks", "recovery", "open_model",
                "endpoints", "slowest", "events", "scenarios", "options"):
        assert sid in page.ids, sid
    head, *rows = page.tables["endpoints"]
    assert head == ["name", "count", "req/s", "error %", "error SLO", "p50 ms", "p90 ms",
                    "p95 ms", "p95 SLO", "p99 ms", "p99 SLO", "max ms", "other SLOs"]
    evil = dict(zip(head, rows[0], strict=True))
    assert evil["name"] == EVIL and evil["p95 ms"] == 321.5 and evil["p95 SLO"] == 300
    assert evil["error %"] == 1.0 and evil["error SLO"] == 0.5 and evil["count"] == 100
    assert evil["other SLOs"] == "avg 100"
    ok = dict(zip(head, rows[1], strict=True))
    assert ok["name"] == "/ok" and ok["p95 SLO"] == "—"  # no budget for /ok
    text = build(summary_fixture())
    assert re.search(r'class="n bad" data-v="321\.5"', text)  # over its p95 budget
    assert re.search(r'class="n bad" data-v="1\.0"', text)  # 1% errors over 0.5%
    _, t_row, _ = page.tables["thresholds"]  # sorted by metric: the p(95) one first
    assert t_row[:3] == ["http_req_duration{name:" + EVIL + "}", "p(95)<300", "✗ fail"]
    assert t_row[3] == 321.5  # the observed value beside it
    assert [r[0] for r in page.tables["checks"][1:]] == ["body ok", f"{EVIL} › status is 200"]
    assert page.tables["events"][1][1] == EVIL
    om = page.rows("open_model")[EVIL]
    assert om["dropped"] == 7 and om["unserved"] == 7 and om["latency p95 ms"] == 50.0
    assert om["latency p99 ms"] == "unserved"  # null in the JSON: among the unserved
    assert page.tables["recovery"][1][1] == "—"  # recovery_s null: never recovered


def test_absent_keys_are_skipped_and_odd_shapes_do_not_fail() -> None:
    data = summary_fixture()
    for key in ("endpoints", "slo", "slowest_requests", "events", "recovery", "verdicts",
                "warnings"):
        del data["loadgen"][key]
    page = Page(build(data))
    for sid in ("slowest", "events", "recovery", "verdicts", "warnings"):
        assert sid not in page.ids, sid
    # without loadgen.endpoints the rows come from the intervals (3 seconds of each name)
    head, *rows = page.tables["endpoints"]
    by_name = {r[0]: dict(zip(head, r, strict=True)) for r in rows}
    assert by_name[EVIL]["count"] == 6 and by_name[EVIL]["max ms"] == 300.0
    assert by_name[EVIL]["error %"] == 50.0 and by_name["/ok"]["p50 ms"] == 1.5
    odd = copy.deepcopy(summary_fixture())
    odd["loadgen"].update(endpoints="nope", slo=[1], events={"a": 1}, slowest_requests=[3],
                          recovery=None, verdicts=[], warnings="x")
    odd["metrics"]["bad"] = {"thresholds": {"p(95)<1": "yes"}, "values": None}
    assert "report-data" in Page(build(odd, series=False)).ids


def test_report_path_problems_are_named_before_the_run() -> None:
    assert report_problem("--report", "out.txt") is not None
    assert report_problem("--report", "out.html") is None


def test_non_finite_numbers_never_break_the_page() -> None:
    data = summary_fixture()
    data["loadgen"]["endpoints"][0]["p99"] = float("nan")
    c = ReportCollector()
    iv = interval(0.0, {"/x": [1.0]}, vus=float("nan"))
    c.observe(iv)
    text = build_html(data, c.finish(), exit_code=0, run_info={"options": {"x": {1, 2}}})
    page = Page(text)
    def no_constants(token: str) -> None:
        raise AssertionError(f"{token} in the page's JSON (JSON.parse rejects it)")

    json.loads(page.scripts[0][1], parse_constant=no_constants)
    assert page.rows("endpoints")[EVIL]["p99 ms"] == "—"  # not a number: no value shown


def test_huge_tables_and_cells_are_cut_with_a_note() -> None:
    data = summary_fixture()
    data["root_group"]["checks"] = [{"name": f"user {i} ok", "passes": 1, "fails": 0}
                                    for i in range(1500)]
    data["loadgen"]["events"][0]["output_tail"] = "x" * 100_000
    text = build(data)
    page = Page(text)
    assert len(page.tables["checks"]) == 1 + 1000 + 1
    assert "501 more rows not shown" in text  # 1,500 + the group's one
    assert "x" * 2001 not in text and "(100,000 characters)" in text


def test_a_late_interval_is_said_on_the_page() -> None:
    c = ReportCollector()
    for sec in range(8):
        c.observe(interval(float(sec), {"/x": [1.0]}))
    c.observe(interval(0.0, {"/x": [2.0]}))  # a worker far behind
    text = build_html(summary_fixture(), c.finish(), exit_code=0)
    assert "1 interval(s) arrived after their second was drawn" in text
