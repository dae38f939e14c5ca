"""What a run record keeps from the summary data: statistics per metric and endpoint (the
shared `loadgen.endpoints` key when present, nothing when absent), thresholds with observed
values from either summary format, the commit, and options without secrets."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from history_fixtures import endpoint, summary

from loadgen.history import record as record_module
from loadgen.history.record import default_label, from_summary, git_commit, safe_options
from loadgen.summary.export import render_summary_export


def test_metrics_and_endpoints_become_stats() -> None:
    doc = summary(p95=200, rate=40, failed=0.25, endpoints=[endpoint("messages", 80)])
    rec = from_summary(doc, label="x")
    assert rec.stats[("metric", "http_req_duration")] == {
        "avg": 100, "p50": 90, "p90": 160, "p95": 200, "p99": 300, "max": 400}
    assert rec.stats[("metric", "http_reqs")] == {"count": 2400, "rate": 40}
    assert rec.stats[("metric", "http_req_failed")]["value"] == 0.25
    assert rec.stats[("metric", "vus")] == {"last": 10, "peak": 10}
    assert rec.stats[("endpoint", "messages")]["p95"] == 80
    assert rec.duration_s == 60


def test_without_the_endpoints_key_there_are_no_endpoint_rows() -> None:
    rec = from_summary(summary(), label="x")
    assert rec.endpoints() == []
    doc = summary()
    doc["loadgen"]["endpoints"] = [{"name": 3}, "junk", {"name": "ok", "p95": "fast"}]
    assert from_summary(doc, label="x").endpoints() == []  # malformed rows skipped, no crash


@pytest.mark.parametrize("export", [False, True])
def test_thresholds_with_observed_values_from_either_format(export: bool) -> None:
    doc = summary(p95=200, thresholds={"p(95)<150": False, "avg<500": True})
    if export:  # the legacy export: bare values, booleans inverted (true = failed)
        import json

        doc = json.loads(render_summary_export(doc))
    rec = from_summary(doc, label="x")
    rows = {t.source: (t.ok, t.observed) for t in rec.thresholds}
    assert rows == {"p(95)<150": (False, 200.0), "avg<500": (True, 100.0)}
    assert rec.exit_code == 99  # a failed threshold in a summary file means exit 99
    assert rec.observed_text(rec.failed_thresholds()[0]) == "200.00ms"


def test_git_commit_inside_and_outside_a_checkout(tmp_path: Path) -> None:
    assert git_commit(str(tmp_path)) is None
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    assert git_commit(str(repo)) is None  # no commit yet
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert git_commit(str(repo)) == head


def test_a_git_that_hangs_costs_its_deadline_only(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(record_module, "GIT_TIMEOUT_S", 0.3)
    t0 = time.monotonic()
    assert git_commit(str(tmp_path)) is None
    assert time.monotonic() - t0 < 2


#: user info in a URL (kept out of the URL literals: they must read as loopback hosts)
USERINFO, MASKED = "user:s3cret", "user:***"


def test_options_keep_no_secrets() -> None:
    kw = {"file": "s.py", "vus": 5, "env": ("TOKEN=s3cret", "MODE=x"), "quiet": False,
          "headers": ("Authorization: Bearer s3cret",), "fleet_token": "s3cret",
          "webhook": "https://127.0.0.1:9/services/s3cret",
          "scrape_urls": (f"http://{USERINFO}@127.0.0.1:9/metrics",), "body": "s3cret"}
    out = safe_options(kw)
    assert "s3cret" not in repr(out)
    assert out["env"] == ["TOKEN=***", "MODE=***"]
    assert out["vus"] == 5 and "quiet" not in out
    assert out["scrape_urls"] == [f"http://{MASKED}@127.0.0.1:9/metrics"]


def test_default_labels() -> None:
    assert default_label("scenarios/message_soak.py") == "message_soak"
    assert default_label(f"GET http://{USERINFO}@127.0.0.1:8000/api/x?token=1") == \
        "GET 127.0.0.1:8000/api/x"
    assert default_label(None) == "run"
