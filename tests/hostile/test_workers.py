"""`--workers N` through the real CLI: N worker processes run one test, judged as one run.

Each case asserts the exit code, the message, no traceback, a bounded coordinator RSS and an
end within the test's own length plus a margin (process start-up included): exact counts
across workers, the same merged numbers as a single process, a fleet-wide abortOnFail, a
worker killed with SIGKILL or gone silent, Ctrl-C, and bad values for the flag.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet_scenarios import abort_scenario, kill_scenario
from hostile_run import CliRun, run_cli
from servers import serve

RSS_MB = 400
START_S = 6.0  # N interpreters importing loadgen on a busy 2-core machine
SETUP_SCENARIO = """
from loadgen import Scenario, SharedIterations

class S(Scenario):
    executor = SharedIterations(vus=3, iterations=10, max_duration="5s")

    async def setup(self):
        return {"token": "t-1", "ids": [1, 2, 3]}

    async def iteration(self, vu):
        r = await vu.http.get("/")
        vu.check(r, {"status is 200": lambda r: r.status == 200})
        vu.check(vu.data, {"setup data arrived": lambda d: d == {"token": "t-1", "ids": [1, 2, 3]}})
"""
RATE_SCENARIO = """
from loadgen import ConstantArrivalRate, Scenario

class R(Scenario):
    executor = ConstantArrivalRate(rate=60, duration="1s", pre_allocated_vus=10)

    async def iteration(self, vu):
        r = await vu.http.get("/")
        vu.check(r, {"ok": lambda r: r.status == 200})
"""
LONG_SCENARIO = """
from loadgen import ConstantVUs, Scenario

class L(Scenario):
    executor = ConstantVUs(vus=4, duration="30s")

    async def iteration(self, vu):
        await vu.http.get("/")
        await vu.sleep(0.05)
"""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve() as url:
        yield url


def script(tmp_path: Path, text: str, name: str = "s.py") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def metrics(path: Path) -> dict[str, dict[str, float]]:
    return json.loads(path.read_text())["metrics"]  # type: ignore[no-any-return]


def clean(r: CliRun, code: int, within_s: float) -> None:
    r.assert_ended(code, within_s, RSS_MB)


def test_shared_iterations_run_exactly_once_across_three_workers(tmp_path: Path, base_url: str):
    out = tmp_path / "export.json"
    summary = tmp_path / "summary.json"
    r = run_cli("run", script(tmp_path, SETUP_SCENARIO), "--workers", "3", "--summary-export",
                str(out), "--summary-json", str(summary), env={"BASE_URL": base_url})
    clean(r, 0, 5 + START_S)
    m = metrics(out)
    assert m["iterations"]["count"] == 10
    assert m["http_reqs"]["count"] == 10
    assert m["checks"]["passes"] == 20 and m["checks"]["fails"] == 0  # setup data everywhere
    fleet = json.loads(summary.read_text())["loadgen"]["fleet"]
    assert fleet["workers"] == 3 and fleet["lost"] == []
    assert 0 <= fleet["start_skew_ms"] < 1000
    assert "start skew" in r.err and "workers: 3 processes" in r.err


def test_arrival_rate_over_two_workers_matches_one_process(tmp_path: Path, base_url: str):
    path = script(tmp_path, RATE_SCENARIO)
    runs = {}
    for flags in ([], ["--workers", "2"], ["--workers", "1"]):
        out = tmp_path / f"export{len(flags)}{flags[-1] if flags else ''}.json"
        r = run_cli("run", path, "-q", "--summary-export", str(out), *flags,
                    env={"BASE_URL": base_url})
        clean(r, 0, 1 + START_S)
        runs[" ".join(flags)] = metrics(out)
    for name in ("iterations", "http_reqs"):
        counts = {k: m[name]["count"] for k, m in runs.items()}
        assert set(counts.values()) == {60}, counts
    for m in runs.values():
        assert m["checks"]["passes"] == 60
        assert "dropped_iterations" not in m


def test_abort_on_fail_stops_every_worker(tmp_path: Path, base_url: str):
    out, summary = tmp_path / "export.json", tmp_path / "summary.json"
    path = script(tmp_path, abort_scenario(vus=4, duration="30s"))
    r = run_cli("run", path, "--workers", "2", "-q",
                "--summary-export", str(out), "--summary-json", str(summary),
                env={"BASE_URL": base_url})
    # thresholds are judged every 2 s; each worker ends within 2 s of the stop order
    clean(r, 99, 2 + 2 + 2 + START_S)
    assert "http_req_failed" in r.err
    assert metrics(out)["http_reqs"]["count"] > 0
    fleet = json.loads(summary.read_text())["loadgen"]["fleet"]
    assert fleet["lost"] == [] and 0 <= fleet["stop_to_end_ms"] < 2000


@pytest.mark.parametrize(("how", "why"), [
    ("os.kill(os.getpid(), signal.SIGKILL)", "killed by SIGKILL"),
    ("import time; time.sleep(60)", "sent nothing for 5 s"),
])
def test_a_lost_worker_is_named_and_fails_the_run(tmp_path: Path, base_url: str, how: str,
                                                  why: str):
    out = tmp_path / "summary.json"
    path = script(tmp_path, kill_scenario(victim=2, how=how, duration="30s"))
    r = run_cli("run", path, "--workers", "2", "-q", "--summary-json", str(out),
                env={"BASE_URL": base_url})
    clean(r, 110, 1 + 5 + 5 + START_S)  # it dies or falls silent after ~1 s
    assert f"{why}" in r.err
    data = json.loads(out.read_text())
    lost = data["loadgen"]["fleet"]["lost"]
    assert [x["worker"] for x in lost] == [1] and why in lost[0]["why"]
    assert any("was lost" in w for w in data["loadgen"]["warnings"])
    assert "was lost" in r.out  # the text summary names it too
    assert data["metrics"]["http_reqs"]["values"]["count"] > 10  # what it sent is kept


def test_ctrl_c_stops_the_fleet_and_writes_every_file(tmp_path: Path, base_url: str):
    out, summary = tmp_path / "export.json", tmp_path / "summary.json"
    buckets = tmp_path / "b.ndjson"
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen", "run", script(tmp_path, LONG_SCENARIO), "--workers",
         "2", "--summary-export", str(out), "--summary-json", str(summary), "-o",
         f"json={buckets}?points=buckets"], env={**os.environ, "BASE_URL": base_url},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + START_S + 3
    # as a terminal's Ctrl-C: the whole process group, once the load runs
    while time.monotonic() < deadline and not (buckets.exists() and buckets.stat().st_size):
        time.sleep(0.1)
    time.sleep(0.5)
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=15)
    r = CliRun(proc.returncode, stdout.decode(), stderr.decode(), time.monotonic() - t0, 0.0)
    clean(r, 105, 5)
    assert metrics(out)["http_reqs"]["count"] > 0
    assert json.loads(summary.read_text())["loadgen"]["outcome"]["exit_code"] == 105
    assert buckets.read_text().count("\n") > 0


@pytest.mark.parametrize("value", ["0", "-1", "nan", "1.5", "two", "", "1e3"])
def test_bad_worker_counts_are_refused(tmp_path: Path, value: str):
    r = run_cli("run", script(tmp_path, LONG_SCENARIO), f"--workers={value}", "-q")
    clean(r, 104, 10)
    assert "--workers must be a whole number >= 1 or auto" in r.err


def test_raw_points_from_workers_on_other_machines_are_refused(tmp_path: Path):
    """Their part files are on their own disks (local workers' are appended at the end)."""
    r = run_cli("run", script(tmp_path, LONG_SCENARIO), "-q", "--workers", "2", "--listen",
                "127.0.0.1:0", "--fleet-token", "t", "-o", f"json={tmp_path / 'raw.ndjson'}")
    clean(r, 104, 10)
    assert "workers on other machines write no raw points here" in r.err
    assert "write json=FILE?points=buckets" in r.err


def test_vu_abort_in_one_worker_stops_the_fleet(tmp_path: Path, base_url: str):
    text = kill_scenario(victim=1, how="vu.abort('enough')", duration="30s")
    out = tmp_path / "summary.json"
    r = run_cli("run", script(tmp_path, text), "--workers", "2", "-q", "--summary-json",
                str(out), env={"BASE_URL": base_url})
    clean(r, 108, 1 + 2 + START_S)
    assert "enough" in json.loads(out.read_text())["loadgen"]["outcome"]["reason"]


def test_setup_data_that_is_not_json_is_a_script_error(tmp_path: Path, base_url: str):
    text = SETUP_SCENARIO.replace('{"token": "t-1", "ids": [1, 2, 3]}', "{1, 2}")
    r = run_cli("run", script(tmp_path, text), "--workers", "2", "-q",
                env={"BASE_URL": base_url})
    clean(r, 107, 5 + START_S)
    assert "setup() returned data that cannot be sent to the workers" in r.err


def test_http_command_runs_across_workers(tmp_path: Path, base_url: str):
    out = tmp_path / "export.json"
    r = run_cli("http", "GET", f"{base_url}/", "--rps", "40", "-d", "1s", "--expect", "200",
                "--workers", "2", "-q", "--summary-export", str(out))
    clean(r, 0, 1 + START_S)
    m = metrics(out)
    assert m["http_reqs"]["count"] == 40 and m["checks"]["passes"] == 40


SLOW_SETUP_SCENARIO = """
import asyncio
from loadgen import ConstantArrivalRate, Scenario

class B(Scenario):
    executor = ConstantArrivalRate(rate=100, duration="2s", pre_allocated_vus=10)

    async def setup(self):
        await asyncio.sleep({setup_s})  # T0 late in a second of the run: cuts must not be
        return {{}}

    async def iteration(self, vu):
        await vu.http.get("/")
"""


@pytest.mark.parametrize("setup_s", [0.9])
def test_the_live_per_second_stream_misses_no_worker_sample(tmp_path: Path, base_url: str,
                                                           setup_s: float):
    out, buckets = tmp_path / "export.json", tmp_path / "b.ndjson"
    r = run_cli("run", script(tmp_path, SLOW_SETUP_SCENARIO.format(setup_s=setup_s)),
                "--workers", "2", "-q", "--summary-export", str(out),
                "-o", f"json={buckets}?points=buckets", env={"BASE_URL": base_url})
    clean(r, 0, 3 + START_S)
    lines = [json.loads(x) for x in buckets.read_text().splitlines()]
    streamed = sum(x["data"]["value"] for x in lines if x.get("type") == "Point"
                   and x["metric"] == "http_reqs" and x["data"]["tags"]["stat"] == "count")
    assert streamed == metrics(out)["http_reqs"]["count"] == 200


def test_ctrl_c_while_the_workers_start_leaves_no_worker_behind(tmp_path: Path, base_url: str):
    import psutil

    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen", "run", script(tmp_path, LONG_SCENARIO), "--workers",
         "2", "-q"], env={**os.environ, "BASE_URL": base_url}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True)
    coordinator = psutil.Process(proc.pid)
    deadline = time.monotonic() + START_S
    children: list[psutil.Process] = []
    while time.monotonic() < deadline and len(children) < 2:
        children = coordinator.children()
        time.sleep(0.01)
    assert len(children) == 2
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C reaches the coordinator only
    stdout, stderr = proc.communicate(timeout=15)
    r = CliRun(proc.returncode, stdout.decode(), stderr.decode(), time.monotonic() - t0, 0.0)
    clean(r, 105, 5)
    assert "lost" not in r.err  # the coordinator ended them: not a lost worker
    _, alive = psutil.wait_procs(children, timeout=3)
    assert not alive


def test_workers_stop_when_the_coordinator_is_killed(tmp_path: Path, base_url: str):
    import psutil

    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen", "run", script(tmp_path, LONG_SCENARIO), "--workers",
         "2", "-q"], env={**os.environ, "BASE_URL": base_url}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    coordinator = psutil.Process(proc.pid)
    deadline = time.monotonic() + START_S
    children: list[psutil.Process] = []
    while time.monotonic() < deadline:
        children = coordinator.children()
        if len(children) == 2:
            break
        time.sleep(0.05)
    assert len(children) == 2
    time.sleep(1.5)  # the load runs
    proc.kill()
    proc.communicate(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=5)  # stdin closed: they stop themselves
    assert not alive


def test_auto_leaves_a_core_to_a_loopback_target(tmp_path: Path, base_url: str):
    text = RATE_SCENARIO.replace("class R(Scenario):",
                                 f"class R(Scenario):\n    base_url = {base_url!r}")
    summary = tmp_path / "summary.json"
    env = {k: v for k, v in os.environ.items() if k != "BASE_URL"}  # the file's own base_url
    r = run_cli("run", script(tmp_path, text), "--workers", "auto", "--summary-json",
                str(summary), env=env)
    clean(r, 0, 1 + START_S)
    cores = len(os.sched_getaffinity(0))
    fleet = json.loads(summary.read_text())["loadgen"]["fleet"]
    assert fleet["workers"] == max(1, cores - 1)
    assert "one left to the loopback target 127.0.0.1" in fleet["chosen"] in r.err
    assert json.loads(summary.read_text())["metrics"]["iterations"]["values"]["count"] == 60
