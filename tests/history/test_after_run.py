"""The after-run step in process: history row, Markdown with the previous run of the label,
the webhook, p99 from the sinks when the summary has no p(99) column, and which failures
change the exit code (a Markdown file that cannot be written) and which never do."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from history_fixtures import summary
from webhook_servers import receiver

from loadgen.history.after_run import AfterRun
from loadgen.history.store import HistoryStore
from loadgen.metrics.model import Contains, MetricType
from loadgen.metrics.sinks import new_sink
from loadgen.summary.build import MetricEntry


def entries(values: range) -> dict[str, MetricEntry]:
    sink = new_sink(MetricType.TREND)
    for v in values:
        sink.add(float(v))
    return {"http_req_duration": MetricEntry(MetricType.TREND, Contains.TIME, sink,
                                             [("p(99.9)<10000", True)])}


def test_history_markdown_and_webhook_together(tmp_path: Path) -> None:
    db, md = tmp_path / "h.db", tmp_path / "s.md"
    with receiver("ok") as hook:
        for p95 in (100.0, 150.0):
            after = AfterRun.from_cli({"history": str(db), "summary_markdown": str(md),
                                       "webhook": hook.url, "webhook_on": "always",
                                       "file": "scenarios/checkout.py",
                                       "summary_json": "out/s.json"})
            assert after is not None and after.problems() == []
            assert after.finish(summary(p95=p95), {}, 0) == 0
    with HistoryStore(db) as store:
        first, second = store.runs()
    assert first.label == second.label == "checkout"
    assert second.stats[("metric", "http_req_duration")]["p95"] == 150.0
    text = md.read_text()
    assert "### Compared with the previous run (#1 checkout" in text
    assert "| ✗ | http_req_duration | p95 | 100.00ms | 150.00ms | +50.0% |" in text
    assert [m["text"][:20] for m in hook.messages] == ["✅ loadgen passed: ch"] * 2
    assert "out/s.json" in str(hook.messages[0]["blocks"])


def test_p99_and_threshold_values_come_from_the_sinks(tmp_path: Path) -> None:
    after = AfterRun.from_cli({"history": str(tmp_path / "h.db"), "file": "x.py"})
    assert after is not None
    doc = summary()
    del doc["metrics"]["http_req_duration"]["values"]["p(99)"]  # not a summary column
    after.finish(doc, entries(range(1, 1001)), 0)
    assert after.record is not None
    stats = after.record.stats[("metric", "http_req_duration")]
    assert stats["p99"] == pytest.approx(990, rel=0.01)
    assert stats["count"] == 1000
    assert after.record.thresholds == []  # the summary declares none
    doc["metrics"]["http_req_duration"]["thresholds"] = {"p(99.9)<10000": {"ok": True}}
    after.finish(doc, entries(range(1, 1001)), 0)
    [t] = after.record.thresholds
    assert t.observed == pytest.approx(999, rel=0.01)


def test_a_markdown_file_that_cannot_be_written_fails_a_clean_run_only(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    target = tmp_path / "s.md"
    after = AfterRun.from_cli({"summary_markdown": str(target)})
    assert after is not None and after.problems() == []
    target.mkdir()  # the path became a directory after the check
    with caplog.at_level(logging.ERROR, logger="loadgen"):
        assert after.finish(summary(), {}, 0) == 110
        assert after.finish(summary(), {}, 99) == 99
    assert "could not write --summary-markdown" in caplog.text


def test_a_surprise_never_raises_nor_changes_a_failed_code(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    after = AfterRun.from_cli({"history": str(tmp_path / "h.db")})
    assert after is not None
    with caplog.at_level(logging.ERROR, logger="loadgen"):
        assert after.finish({"metrics": "junk"}, {}, 99) == 99
        assert after.finish({"metrics": "junk"}, {}, 0) == 0  # no result file was lost
    assert "after the run (--history/--summary-markdown/--webhook): ConfigError" in caplog.text


def test_nothing_asked_nothing_done() -> None:
    assert AfterRun.from_cli({"file": "x.py", "vus": 3}) is None
    bad = AfterRun.from_cli({"history": "h.db", "history_label": " ", "webhook_on": "never"})
    assert bad is not None
    assert bad.problems() == ["--webhook-on 'never': fail or always",
                              "--history-label is empty"]
