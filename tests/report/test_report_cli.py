"""`--report` through the real CLI: a run's page, the same run's page rebuilt later from its
archive (`loadgen report`), and a `--workers` run's page from the coordinator's merged
data, each with the numbers of the run's own summary JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from report_page import Page
from servers import serve

SCENARIO = """
from loadgen import VU, ConstantVUs, Scenario

class Browse(Scenario):
    executor = ConstantVUs(vus=2, duration="1500ms")
    thresholds = {"http_reqs{name:home}": ["count>0"],
                  "http_req_duration{name:home}": ["p(95)<5000"]}

    async def iteration(self, vu: VU):
        await vu.http.get("/", name="home")
        await vu.http.get("/status/404", name="missing")
        await vu.sleep(0.05)
"""


def loadgen(*args: str, base: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadgen", *args], capture_output=True,
                          text=True, timeout=90, env={**os.environ, "BASE_URL": base})


def summary_rows(summary: Path) -> dict[str, Any]:
    m = json.loads(summary.read_text())["metrics"]
    return {"count": m["http_reqs{name:home}"]["values"]["count"],
            "p95": m["http_req_duration{name:home}"]["values"]["p(95)"],
            "all": m["http_reqs"]["values"]["count"]}


def page_rows(path: Path) -> dict[str, dict[str, Any]]:
    return Page(path.read_text()).rows("endpoints")


def test_a_run_and_its_archive_give_the_same_page_numbers(tmp_path: Path) -> None:
    scen = tmp_path / "browse.py"
    scen.write_text(SCENARIO)
    live, later = tmp_path / "live.html", tmp_path / "later.html"
    with serve() as base:
        r = loadgen("run", str(scen), "-q", "--report", str(live), "--archive",
                    str(tmp_path / "a.ndjson"), "--summary-json", str(tmp_path / "s.json"),
                    base=base)
        assert r.returncode == 0, r.stderr[-2000:]
        rep = loadgen("report", str(tmp_path / "a.ndjson"), "-o", str(later), base=base)
    assert rep.returncode == 0, rep.stderr[-2000:]
    assert f"report written to {later}" in rep.stderr and rep.stdout == ""
    want = summary_rows(tmp_path / "s.json")
    for page in (live, later):
        rows = page_rows(page)
        assert rows["home"]["count"] == want["count"]
        assert rows["home"]["p95 ms"] == want["p95"]
        assert rows["missing"]["error %"] == 100.0
        assert rows["home"]["count"] + rows["missing"]["count"] == want["all"]
    scenarios = Page(later.read_text()).rows("scenarios").values()
    assert [s["executor"] for s in scenarios] == ["ConstantVUs"]  # from the archive's header


def test_a_workers_run_reports_the_fleets_merged_data(tmp_path: Path) -> None:
    scen = tmp_path / "browse.py"
    scen.write_text(SCENARIO)
    page = tmp_path / "fleet.html"
    with serve() as base:
        r = loadgen("run", str(scen), "-q", "--workers", "2", "--report", str(page),
                    "--summary-json", str(tmp_path / "s.json"), base=base)
    assert r.returncode == 0, r.stderr[-2000:]
    want = summary_rows(tmp_path / "s.json")
    rows = page_rows(page)
    assert rows["home"]["count"] == want["count"]
    assert rows["home"]["count"] + rows["missing"]["count"] == want["all"]
    assert "· 2 workers</p>" in page.read_text()  # the fleet section, in the header line


def test_loadgen_http_writes_a_report_named_by_its_url(tmp_path: Path) -> None:
    page = tmp_path / "http.html"
    with serve() as base:
        r = loadgen("http", "GET", f"{base}/", "--rps", "20", "-d", "1s", "--report", str(page),
                    "--summary-json", str(tmp_path / "s.json"), "-q", base=base)
    assert r.returncode == 0, r.stderr[-2000:]
    count = json.loads((tmp_path / "s.json").read_text())["metrics"]["http_reqs"]["values"]
    assert page_rows(page)[f"{base}/"]["count"] == count["count"]
