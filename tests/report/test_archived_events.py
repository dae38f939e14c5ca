"""A results archive carries what the run judged at its end, beyond the metrics: the events,
the recovery verdicts and the slowest requests (the end line's `results`). `loadgen report`,
`loadgen merge` and `loadgen compare` of the archive give them back as the run had them; an
archive written before they were carried still reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from report_page import Page
from servers import serve

from loadgen.history.sources import load_run

SCENARIO = """
from loadgen import VU, At, ConstantVUs, Recovery, Scenario, Shell

class Faulted(Scenario):
    executor = ConstantVUs(vus=2, duration="1s")
    events = [At("300ms", Shell("echo poked"), name="poke"),
              At("600ms", Shell("echo broken >&2; exit 3"), name="breaks", required=True)]
    recovery = [Recovery(after="poke", within="30s")]

    async def iteration(self, vu: VU):
        await vu.http.get("/", name="home")
        await vu.sleep(0.05)
"""


def loadgen(*args: str, base: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadgen", *args], capture_output=True,
                          text=True, timeout=90, env={**os.environ, "BASE_URL": base})


def section(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text())["loadgen"])


def test_report_merge_and_compare_of_an_archive_keep_events_verdicts_and_slowest(
        tmp_path: Path) -> None:
    scen, archive = tmp_path / "faulted.py", tmp_path / "a.ndjson"
    scen.write_text(SCENARIO)
    page, merged = tmp_path / "later.html", tmp_path / "merged.json"
    with serve() as base:
        run = loadgen("run", str(scen), "-q", "--archive", str(archive),
                      "--summary-json", str(tmp_path / "run.json"), "--slowest", "5",
                      base=base)
        assert run.returncode == 99, run.stderr[-2000:]  # the required event failed
        rep = loadgen("report", str(archive), "-o", str(page), base=base)
        mrg = loadgen("merge", str(archive), "--summary-json", str(merged), base=base)
    assert rep.returncode == 0, rep.stderr[-2000:]
    assert mrg.returncode == 99, mrg.stderr[-2000:]  # as the run: its required event failed
    want = section(tmp_path / "run.json")
    got = section(merged)
    assert [e["name"] for e in want["events"]] == ["poke", "breaks"]
    assert got["events"] == want["events"] and got["recovery"] == want["recovery"]
    assert got["slowest_requests"] == want["slowest_requests"]
    assert len(want["slowest_requests"]) == 5
    assert got["verdicts"] == want["verdicts"]
    assert any("event breaks (shell) [required] failed" in w for w in got["warnings"])
    assert "EVENTS" in mrg.stdout and "breaks (shell)" in mrg.stdout  # the text section too
    html = Page(page.read_text())
    assert [r["name"] for r in html.rows("events").values()] == ["poke", "breaks"]
    assert list(html.rows("recovery")) == ["poke"]
    data = json.loads(next(t for a, t in html.scripts if a.get("id") == "report-data"))
    timeline = [n["text"] for n in data["figures"][0]["layout"]["annotations"]]
    assert timeline == ["poke", "breaks"]  # the events' markers over the charts
    head, *rows = html.tables["slowest"]
    col = head.index("duration_ms")
    assert [r[col] for r in rows] == [r["duration_ms"] for r in want["slowest_requests"]]
    rec = load_run(str(archive))  # `loadgen compare` reads the archive the same way
    assert rec.exit_code == 99 and rec.verdicts == want["verdicts"]


def test_an_archive_without_the_end_lines_results_still_merges(tmp_path: Path) -> None:
    """An archive of an earlier loadgen (no `results` on its end line) reads as before (a
    damaged `results`: tests/hostile/test_integrate.py)."""
    scen, archive = tmp_path / "faulted.py", tmp_path / "a.ndjson"
    scen.write_text(SCENARIO)
    with serve() as base:
        run = loadgen("run", str(scen), "-q", "--no-summary", "--archive", str(archive),
                      "--events-off", "--slowest", "0", base=base)
        assert run.returncode == 0, run.stderr[-2000:]
        assert "results" not in json.loads(archive.read_text().splitlines()[-1])
        mrg = loadgen("merge", str(archive), "--summary-json", str(tmp_path / "m.json"),
                      base=base)
    assert mrg.returncode == 0, mrg.stderr[-2000:]
    lg = section(tmp_path / "m.json")
    assert "events" not in lg and "slowest_requests" not in lg
