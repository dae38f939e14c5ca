"""Two real CLI runs write archives; `loadgen merge` gives what one run over all their samples
would: counts add up, percentiles are those of a sink fed both runs' samples, thresholds are
judged on the merged data. A killed or interrupted run still leaves an archive that merges."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from servers import serve

from loadgen.metrics.histogram import TrendSink

SCENARIO = """
from loadgen import VU, Scenario, SharedIterations, Trend
value = Trend("my_value")

class S(Scenario):
    executor = SharedIterations(vus=3, iterations=150)

    async def iteration(self, vu: VU):
        r = await vu.http.get("/")
        vu.check(r, {"is 200": lambda r: r.status == 200})
        value.add(float(vu.env.get("V", "1")) * (vu.iteration % 7))
"""
LONG = """
from loadgen import VU, Scenario, ConstantVUs

class S(Scenario):
    executor = ConstantVUs(vus=2, duration="30s")

    async def iteration(self, vu: VU):
        await vu.http.get("/")
        await vu.sleep(0.01)
"""
STATS = "avg,min,med,max,p(90),p(95),p(99)"


def loadgen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadgen", *args], capture_output=True,
                          text=True, timeout=60, check=False, env={**os.environ, **(env or {})})


def ndjson_values(path: Path, metric: str) -> list[float]:
    out = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        if d["type"] == "Point" and d["metric"] == metric:
            out.append(d["data"]["value"])
    return out


def test_merge_of_two_runs_is_one_run_over_all_samples(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(SCENARIO)
    # each run of 150 iterations passes, the 300 of both do not
    (tmp_path / "t.json").write_text(json.dumps({"iterations": ["count<200"],
                                                 "checks": ["rate>0.99"]}))
    with serve() as url:
        for part, v in (("1", "1"), ("2", "1000")):
            r = loadgen("run", str(tmp_path / "s.py"), "-q", "--tag", f"part={part}",
                        "--thresholds", str(tmp_path / "t.json"),
                        "--archive", str(tmp_path / f"a{part}.ndjson"),
                        "-o", f"json={tmp_path / f'p{part}.ndjson'}",
                        "--summary-export", str(tmp_path / f"e{part}.json"),
                        env={"BASE_URL": url, "V": v})
            assert r.returncode == 0, r.stderr[-2000:]
    r = loadgen("merge", str(tmp_path / "a1.ndjson"), str(tmp_path / "a2.ndjson"),
                "--summary-trend-stats", STATS, "--summary-export", str(tmp_path / "m.json"),
                "--summary-json", str(tmp_path / "h.json"))
    assert r.returncode == 99, r.stderr[-2000:]  # judged on the merge: 300 iterations
    assert "Traceback" not in r.stderr
    assert "✗ 'count<200'" in r.stdout and "✓ 'rate>0.99'" in r.stdout
    merged = json.loads((tmp_path / "m.json").read_text())["metrics"]
    parts = [json.loads((tmp_path / f"e{p}.json").read_text())["metrics"] for p in "12"]
    for name in ("iterations", "http_reqs", "data_received"):
        assert merged[name]["count"] == sum(p[name]["count"] for p in parts)
    assert merged["checks"]["passes"] == 300 and merged["checks"]["fails"] == 0
    assert merged["iterations"]["thresholds"] == {"count<200": True}  # export: True = failed
    # percentiles: those of one sink fed both runs' samples (from their NDJSON streams)
    for metric in ("http_req_duration", "my_value", "iteration_duration"):
        ref = TrendSink()
        for p in "12":
            ref.add_many(np.array(ndjson_values(tmp_path / f"p{p}.ndjson", metric)))
        want = ref.summary_values(STATS.split(","), 0)
        got = merged[metric]
        for stat in ("min", "med", "max", "p(90)", "p(95)", "p(99)"):
            assert got[stat] == want[stat], (metric, stat)
        assert got["avg"] == pytest.approx(want["avg"], rel=1e-12)
    # handleSummary data too, and the run's own tags did not leak into a sub-metric
    h = json.loads((tmp_path / "h.json").read_text())
    assert h["metrics"]["http_reqs"]["values"]["count"] == 300


@pytest.mark.parametrize("how", ["kill", "interrupt"])
def test_a_killed_or_interrupted_run_leaves_an_archive_that_merges(tmp_path: Path,
                                                                   how: str) -> None:
    (tmp_path / "s.py").write_text(LONG)
    archive = tmp_path / "a.ndjson"
    with serve() as url:
        proc = subprocess.Popen([sys.executable, "-m", "loadgen", "run", str(tmp_path / "s.py"),
                                 "-q", "--archive", str(archive)],
                                env={**os.environ, "BASE_URL": url},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # two interval lines: two seconds of load
            if archive.exists() and archive.read_text().count('"kind":"interval"') >= 2:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL if how == "kill" else signal.SIGINT)
        proc.wait(timeout=20)
    lines = archive.read_text().splitlines()
    assert lines[-1].endswith("}")
    assert ('"kind":"end"' in lines[-1]) == (how == "interrupt")
    r = loadgen("merge", str(archive), "--summary-export", str(tmp_path / "m.json"))
    assert "Traceback" not in r.stderr
    assert r.returncode == 105, r.stderr[-2000:]
    if how == "kill":
        assert "has no end line" in r.stderr
    exported = json.loads((tmp_path / "m.json").read_text())["metrics"]
    archived = 0.0
    for line in lines[1:]:
        d = json.loads(line)
        archived += sum(m["count"] for m in d.get("metrics", ()) if m["metric"] == "http_reqs")
    assert exported["http_reqs"]["count"] == archived > 0


BIG = """
from loadgen import VU, Scenario, SharedIterations, Trend
value = Trend("my_value")

class S(Scenario):
    executor = SharedIterations(vus=4, iterations=12000)

    async def iteration(self, vu: VU):
        k = vu.iteration * 7919 % 10007
        value.add(k / 13.0 if k % 3 else k * 1e-9)  # a third tiny: a data-chosen unit differs
        vu.check(vu.iteration, {"even": lambda i: i % 2 == 0})
"""


def test_merging_one_archive_gives_back_the_run_itself(tmp_path: Path) -> None:
    """Past 10,000 values (the HDR phase) too: a run that archives uses the archive's
    histogram units, so its own export and the merge of its archive are identical, and
    the per-second NDJSON written by merge carries the same counts."""
    (tmp_path / "s.py").write_text(BIG)
    stats = "avg,min,med,max,p(10),p(30),p(90),p(99)"
    r = loadgen("run", str(tmp_path / "s.py"), "-q", "--archive", str(tmp_path / "a.ndjson"),
                "--summary-trend-stats", stats, "--summary-export", str(tmp_path / "run.json"))
    assert r.returncode == 0, r.stderr[-2000:]
    r = loadgen("merge", str(tmp_path / "a.ndjson"), "--summary-trend-stats", stats,
                "--summary-export", str(tmp_path / "merged.json"),
                "-o", f"json={tmp_path / 'b.ndjson'}?points=buckets")
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in (tmp_path / "a.ndjson").read_text().splitlines()]
    assert [x["kind"] for x in lines] == ["header"] + ["interval"] * (len(lines) - 2) + ["end"]
    assert "my_value" in {m["name"] for m in lines[0]["metrics"]}
    assert all(x["declare"] == [] for x in lines[1:-1])  # declared once, in the header
    run = json.loads((tmp_path / "run.json").read_text())
    merged = json.loads((tmp_path / "merged.json").read_text())
    assert run["metrics"]["iterations"]["count"] == 12000
    assert merged["metrics"] == run["metrics"]
    assert merged["root_group"] == run["root_group"]
    per_second = [json.loads(x) for x in (tmp_path / "b.ndjson").read_text().splitlines()]
    counts = [p["data"]["value"] for p in per_second if p["type"] == "Point"
              and p["metric"] == "iterations" and p["data"]["tags"]["stat"] == "count"]
    assert sum(counts) == 12000


OPEN = """
from loadgen import VU, Scenario, ConstantArrivalRate

class Arrivals(Scenario):
    executor = ConstantArrivalRate(rate=40, duration="1s", pre_allocated_vus=1, max_vus=1)

    async def iteration(self, vu: VU):
        await vu.http.get("/delay/100")
"""


def test_open_model_views_and_unserved_work_add_up(tmp_path: Path) -> None:
    """One VU for 40 arrivals/s of 100 ms work: most are dropped, unserved in
    iteration_latency. The merge's open-model section is the sum of the runs', and the
    latency threshold that each run fails still fails on the merge."""
    (tmp_path / "s.py").write_text(OPEN)
    (tmp_path / "t.json").write_text(json.dumps({"iteration_latency": ["p(50)<10000"]}))
    with serve() as url:
        for part in "12":
            r = loadgen("run", str(tmp_path / "s.py"), "-q", "--tag", f"part={part}",
                        "--thresholds", str(tmp_path / "t.json"),
                        "--archive", str(tmp_path / f"a{part}.ndjson"),
                        "--summary-json", str(tmp_path / f"h{part}.json"),
                        env={"BASE_URL": url})
            assert r.returncode == 99, r.stderr[-2000:]
    r = loadgen("merge", str(tmp_path / "a1.ndjson"), str(tmp_path / "a2.ndjson"),
                "--summary-json", str(tmp_path / "h.json"))
    assert r.returncode == 99, r.stderr[-2000:]
    assert "unserved" in r.stdout
    views = [json.loads((tmp_path / f"h{p}.json").read_text())["loadgen"]["open_model"]
             ["arrivals"] for p in ("1", "2", "")]
    merged = views[2]
    assert merged["dropped_iterations"] == views[0]["dropped_iterations"] + views[1][
        "dropped_iterations"] > 0
    lat = [v["iteration_latency"] for v in views]
    assert lat[2]["unserved"] == lat[0]["unserved"] + lat[1]["unserved"] > 0
    assert lat[2]["count"] == lat[0]["count"] + lat[1]["count"]
    assert lat[2]["max"] is None  # JSON's infinity: unserved work ranks above everything
