"""`--report` with `--history`: the page compares the run with the label's previous run (the
deltas `loadgen compare` prints), worse rows red and better ones green; the first run of a
label has no such block."""

from __future__ import annotations

from pathlib import Path

from report_page import Page

from loadgen import ConstantVUs, Scenario
from loadgen.errors import ExitCode
from loadgen.execution.engine import Outcome, ScenarioSpec
from loadgen.history.after_run import AfterRun
from loadgen.metrics.model import tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.results.config import ResultsConfig
from loadgen.results.pipeline import Results

S = 1_000_000_000


class Nightly(Scenario):
    executor = ConstantVUs(vus=1, duration="10s")


def one_run(db: Path, page: Path, ms: float, n: int) -> int:
    """A run judged through the real pipeline: `n` requests of `ms` each over 2 s."""
    after = AfterRun.from_cli({"history": str(db), "history_label": "nightly"})
    assert after is not None
    cfg = ResultsConfig(report=str(page), no_summary=True, after_run=after)
    rec = Recorder()
    res = Results(Registry(), [ScenarioSpec("nightly", Nightly, Nightly.executor)], cfg,
                  now_ns=lambda: 2 * S)
    res.started(0)
    t = tagset({"scenario": "nightly", "group": "", "name": "home", "status": "200",
                "expected_response": "true"})
    for i in range(n):
        rec.http(1 + i, t, ms, 0, 0, 0, 0, ms, 0, 0)
    res.ingest(rec.drain())
    return res.finish(Outcome(ExitCode.OK, 2 * S))


def test_the_second_run_of_a_label_shows_the_deltas_coloured(tmp_path: Path) -> None:
    db, first, second = tmp_path / "h.db", tmp_path / "1.html", tmp_path / "2.html"
    assert one_run(db, first, 10.0, 100) == 0
    assert one_run(db, second, 20.0, 150) == 0
    assert "s-history" not in Page(first.read_text()).ids  # nothing to compare with yet
    page = Page(second.read_text())
    head, *rows = page.tables["history"]
    assert head == ["", "name", "stat", "previous", "this run", "change"]
    by = {(r[1], r[2]): r for r in rows}
    assert by[("http_req_duration", "p95")][3:] == ["10.00ms", "20.00ms", "+100.0%"]
    assert by[("http_req_duration", "p95")][0] == "✗"  # the default rule p95>+10% broke
    assert by[("http_reqs", "count")][3:] == ["100", "150", "+50.0%"]
    assert ("endpoint home", "p95") in by
    text = second.read_text()
    assert '<tr class="worse"><td>✗</td><td>http_req_duration</td><td>p95</td>' in text
    assert '<tr class="better"><td></td><td>http_reqs</td><td>count</td>' in text
    assert "regression(s) against p95&gt;+10%" in text
