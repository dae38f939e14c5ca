"""The HTML report of a real run, opened in a real headless Chromium: it loads offline, draws
its charts from the run's data, shows the same numbers as the summary JSON of that run, and
shows a hostile request name as text."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from browser import Browser, chromium_path
from servers import serve

EVIL = "<script>alert(1)</script>"
SCENARIO = textwrap.dedent('''
    from loadgen import VU, ConstantArrivalRate, Scenario

    class Shop(Scenario):
        executor = ConstantArrivalRate(rate=40, duration="2s", pre_allocated_vus=5)
        thresholds = {"http_req_duration{name:ok}": ["p(95)<5000", "max<5000"],
                      "http_reqs{name:ok}": ["count>0"], "checks": ["rate>0.5"]}

        async def iteration(self, vu: VU):
            r = await vu.http.get("/", name="ok")
            vu.check(r, {"status is 200": lambda r: r.status == 200})
            await vu.http.get("/status/500", name=EVIL_NAME)
''').replace("EVIL_NAME", repr(EVIL))

CHARTS_JS = """Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => ({
  id: d.id, points: d.data.reduce((a, t) => a + ((t.visible === false) ? 0 :
      (t.y || []).filter(v => v !== null && v !== undefined).length), 0)}))"""
TABLE_JS = """(id) => Array.from(document.querySelectorAll('#' + id + ' tbody tr')).map(tr =>
  Array.from(tr.cells).map(td => td.dataset.v !== undefined ? Number(td.dataset.v)
                                                              : td.textContent))"""


# the latency chart's menu: press the "ok" entry as a user would, then list what is drawn
PICK_JS = """(async () => {
  const gd = document.getElementById('chart-latency');
  const button = gd.layout.updatemenus[0].buttons.find(b => b.label === 'ok');
  await Plotly.restyle(gd, button.args[0]);
  return gd.data.filter(t => t.visible === true).map(t => [t.name, t.y.length]);
})()"""


async def look(url: str, profile: Path) -> dict[str, Any]:
    """Open the report and read back what the browser made of it."""
    async with Browser(profile) as b:
        await b.open(url, "document.body && document.body.dataset.charts !== undefined")
        ev = b.evaluate
        seen = {
            "charts": {c["id"]: c["points"] for c in await ev(CHARTS_JS)},
            "endpoints": await ev(f"({TABLE_JS})('endpoints')"),
            "thresholds": await ev(f"({TABLE_JS})('thresholds')"),
            "verdict": await ev("document.getElementById('verdict').textContent"),
            "exit_code": await ev("document.getElementById('verdict').dataset.exitCode"),
            "names_text": await ev("document.getElementById('endpoints').innerText"),
            "scripts": await ev("document.scripts.length"),
            "slowest": await ev(f"({TABLE_JS})('slowest')"),
            "latency_traces": await ev(
                "document.getElementById('chart-latency').data.map(t => t.name)"),
            "picked": await ev(PICK_JS),
            "png": await b.screenshot(),
        }
        seen.update(problems=b.problems(), requests=b.requests(), dialogs=[
            e for e in b.events if e["method"] == "Page.javascriptDialogOpening"])
        return seen


def endpoint_columns() -> list[str]:
    return ["name", "count", "rate", "error %", "p50", "p90", "p95", "p99", "max"]


@pytest.mark.skipif(chromium_path() is None,
                    reason="no chromium (make test installs Debian's chromium package)")
def test_report_opens_offline_with_the_runs_numbers(tmp_path: Path) -> None:
    scen = tmp_path / "shop.py"
    scen.write_text(SCENARIO)
    report, summary = tmp_path / "report.html", tmp_path / "summary.json"
    with serve() as base:
        proc = subprocess.run(
            [sys.executable, "-m", "loadgen", "run", str(scen), "-q", "--report", str(report),
             "--summary-json", str(summary), "--slowest", "5"],
            env={**os.environ, "BASE_URL": base}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(summary.read_text())
    metrics = data["metrics"]
    url = report.resolve().as_uri()
    seen = asyncio.run(look(url, tmp_path / "profile"))
    charts, endpoints, thresholds = seen["charts"], seen["endpoints"], seen["thresholds"]
    verdict, exit_code, names_text = seen["verdict"], seen["exit_code"], seen["names_text"]
    scripts, latency_traces = seen["scripts"], seen["latency_traces"]
    problems, requests, dialogs = seen["problems"], seen["requests"], seen["dialogs"]
    shot = tmp_path / "report.png"
    shot.write_bytes(seen["png"])
    if os.environ.get("LOADGEN_ARTIFACTS"):
        shutil.copy(shot, Path(os.environ["LOADGEN_ARTIFACTS"]) / "report.png")

    assert problems == []
    assert [u for u in requests if not u.startswith(("data:", "blob:"))] == [url]
    assert dialogs == []
    # every chart drew points from the run (the open-model one included: an arrival rate)
    for cid in ("throughput", "latency", "vus", "open_model", "latency_vs_rate", "spectrum"):
        assert charts.get(f"chart-{cid}", 0) > 0, charts
    # the hostile name is text in the table and a label in the chart, never markup
    assert EVIL in names_text
    assert scripts == 3  # the data block, the chart library, the boot script
    assert any("&lt;script&gt;" in n for n in latency_traces)
    # the menu shows one name's percentiles per interval
    assert [n for n, _ in seen["picked"]] == ["p50 ok", "p90 ok", "p95 ok", "p99 ok", "max ok"]
    assert all(points > 0 for _, points in seen["picked"])
    # the tables show the run's own numbers, as the summary JSON of the same run has them
    assert verdict.startswith("PASSED") and int(exit_code) == proc.returncode
    rows = {r[0]: dict(zip(endpoint_columns(), r, strict=True)) for r in endpoints}
    assert set(rows) == {"ok", EVIL}
    ok = rows["ok"]
    assert ok["count"] == metrics["http_reqs{name:ok}"]["values"]["count"]
    dur = metrics["http_req_duration{name:ok}"]["values"]
    assert ok["p95"] == pytest.approx(dur["p(95)"], rel=1e-9)
    assert ok["p50"] == pytest.approx(dur["med"], rel=1e-9)
    assert ok["max"] == pytest.approx(dur["max"], rel=1e-9)
    assert ok["error %"] == 0 and rows[EVIL]["error %"] == 100
    assert sum(r["count"] for r in rows.values()) == metrics["http_reqs"]["values"]["count"]
    observed = {(r[0], r[1]): r[3] for r in thresholds}
    assert observed[("http_req_duration{name:ok}", "p(95)<5000")] == pytest.approx(dur["p(95)"])
    assert observed[("checks", "rate>0.5")] == metrics["checks"]["values"]["rate"]
    # the run's slowest requests, as the summary lists them (the hostile name as text)
    slowest = data["loadgen"]["slowest_requests"]
    assert [r[0] for r in seen["slowest"]] == [r["name"] for r in slowest]
    assert [r[4] for r in seen["slowest"]] == [r["duration_ms"] for r in slowest]
    assert shot.stat().st_size > 10_000
