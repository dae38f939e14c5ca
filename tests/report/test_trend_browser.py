"""`loadgen trend --html` opened in a real headless Chromium: the run report's charts and
inlined plotly, so it must load offline (no request but the file), draw every chart with its
runs' points, and show a hostile label as text, with no console error."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from browser import chromium_path, look_at_charts

from loadgen.commands.trend import run_trend
from loadgen.history.record import from_summary
from loadgen.history.store import HistoryStore

EVIL = "<img src=x onerror=alert(1)>"


def night(p95: float) -> dict[str, Any]:
    """A run's summary as a run writes it (the keys the history reads)."""
    return {"state": {"testRunDurationMs": 60_000}, "metrics": {
        "http_req_duration": {"type": "trend", "contains": "time", "values": {
            "avg": p95 / 2, "min": 1.0, "med": p95 / 2, "max": p95 * 2, "p(90)": p95 * 0.8,
            "p(95)": p95, "p(99)": p95 * 1.5}},
        "http_reqs": {"type": "counter", "contains": "default",
                      "values": {"count": 3000, "rate": 50.0}},
        "http_req_failed": {"type": "rate", "contains": "default",
                            "values": {"rate": 0.0, "passes": 0, "fails": 3000}}},
        "loadgen": {"endpoints": [{"name": EVIL, "count": 600, "rate": 10.0,
                                   "error_rate": 0.0, "p50": p95 / 2, "p90": p95 * 0.8,
                                   "p95": p95, "p99": p95 * 1.5, "max": p95 * 2}]}}


@pytest.mark.skipif(chromium_path() is None,
                    reason="no chromium (make test installs Debian's chromium package)")
def test_the_trend_page_draws_the_reports_charts_offline(tmp_path: Path) -> None:
    db, page = tmp_path / "h.db", tmp_path / "trend.html"
    with HistoryStore(db) as store:
        for day, p95 in enumerate([100, 98, 101, 99, 102, 97, 100, 130, 131, 133], start=1):
            store.add(from_summary(night(p95), label=EVIL, exit_code=0,
                                   started_at=f"2026-11-{day:02d}T02:00:00Z"))
    assert run_trend(str(db), None, 7, "10%", 3, False, str(page)) == 99
    url = page.resolve().as_uri()
    seen = asyncio.run(look_at_charts(url, tmp_path / "profile"))
    assert seen["problems"] == [] and seen["dialogs"] == []
    assert [u for u in seen["requests"] if not u.startswith(("data:", "blob:"))] == [url]
    assert seen["state"] == "6"  # one chart per metric, every one drawn
    assert len(seen["charts"]) == 6 and all(n >= 10 for n in seen["charts"].values())
    assert EVIL in seen["text"]  # the label, as text
