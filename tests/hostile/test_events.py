"""Events through the real CLI: bad declarations (104), a hanging shell killed at its
timeout, a required event that fails (99), Ctrl-C in the middle of an event (105, files
written, the shell's group killed), --events-off, and a short run in which an event faults
a loopback service and another heals it, with the recovery verdict measured.

Each case asserts the exit code, the message, no traceback, a bounded peak RSS and an end
within the run's length plus a margin (interpreter start-up included).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from fault_servers import fault_server
from hostile_run import CliRun, run_cli

RSS_MB = 300
START_S = 6.0  # an interpreter importing loadgen on a busy 2-core machine


def write(tmp_path: Path, body: str) -> str:
    f = tmp_path / "scenario.py"
    f.write_text(body)
    return str(f)


def check(r: CliRun, code: int, length_s: float) -> None:
    assert r.code == code, r.text[-3000:]
    r.assert_clean()
    assert r.peak_rss_mb < RSS_MB
    assert r.wall_s < length_s + START_S, r.wall_s


BAD = """
from loadgen import At, Call, ConstantVUs, HttpCall, Recovery, Scenario, Shell

def plain():
    pass

class Fault:
    pass

class S(Scenario):
    executor = ConstantVUs(vus=1, duration="2s", graceful_stop="0s")
    events = [At("5s", Shell("true")), At("1s", Fault()), At("1s", Call(plain))]
    recovery = [Recovery(after="missing")]

    async def iteration(self, vu):
        await vu.sleep(0.1)
"""


def test_bad_events_exit_104_listing_every_problem(tmp_path: Path) -> None:
    r = run_cli("run", write(tmp_path, BAD), "-q")
    check(r, 104, 0)
    assert "offset 5s is beyond the run's planned length of 2s" in r.err
    assert "unknown event kind Fault" in r.err
    assert "Call needs an `async def` function" in r.err
    assert "Recovery refers to event 'missing'" in r.err


HANG = """
from loadgen import At, ConstantVUs, Scenario, Shell

class S(Scenario):
    executor = ConstantVUs(vus=1, duration="3s", graceful_stop="0s")
    events = [At("500ms", Shell("echo $$ > {pid}; echo started; sleep 60"), name="hang",
                 timeout="1s"),
              At("500ms", Shell("exit 7"), name="must", required={required}),
              At("1s", Shell("head -c 50000000 /dev/zero"), name="flood")]

    async def iteration(self, vu):
        await vu.sleep(0.1)
"""


@pytest.mark.parametrize(("required", "code"), [(False, 0), (True, 99)])
def test_a_hanging_shell_is_killed_a_flood_is_bounded_and_a_required_failure_fails(
        tmp_path: Path, required: bool, code: int) -> None:
    pid, summary = tmp_path / "pid", tmp_path / "summary.json"
    r = run_cli("run", write(tmp_path, HANG.format(pid=pid, required=required)), "-q",
                "--summary-json", str(summary))
    check(r, code, 3)
    events = {e["name"]: e for e in json.loads(summary.read_text())["loadgen"]["events"]}
    hang = events["hang"]
    assert (hang["ok"], hang["status"], hang["kind"]) == (False, None, "shell")
    assert 1.0 <= hang["duration_s"] < 2.0 and "started" in hang["output_tail"]
    assert "timed out after 1 s; its process group was killed" in hang["output_tail"]
    assert not psutil.pid_exists(int(pid.read_text()))
    assert events["must"] == {"at_s": events["must"]["at_s"], "name": "must", "kind": "shell",
                              "ok": False, "status": 7, "duration_s": events["must"]["duration_s"],
                              "output_tail": "", "required": required}
    flood = events["flood"]  # 50 MB of output: 2 KB kept, RSS bounded (check above)
    assert flood["ok"] and len(flood["output_tail"]) == 2048
    assert "█ EVENTS" in r.out and "✗ hang (shell) at 0.5s" in r.out
    assert "event must (shell)" + (" [required]" if required else "") + " failed" in r.out


SIGINT = """
from loadgen import At, ConstantVUs, Scenario, Shell

class S(Scenario):
    executor = ConstantVUs(vus=1, duration="30s", graceful_stop="0s")
    events = [At("500ms", Shell("sleep 60 & echo $! > {pid}; wait"), name="long")]

    async def iteration(self, vu):
        await vu.sleep(0.1)
"""


def test_ctrl_c_during_an_event_kills_it_and_still_writes_every_file(tmp_path: Path) -> None:
    pid, summary, out = tmp_path / "pid", tmp_path / "summary.json", tmp_path / "out.ndjson"
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen", "run", write(tmp_path, SIGINT.format(pid=pid)), "-q",
         "--summary-json", str(summary), "-o", f"json={out}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + START_S + 5
        while not (pid.exists() and pid.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid.read_text())
        assert psutil.pid_exists(child)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 105, stderr
    assert time.monotonic() - t0 < 5
    assert "Traceback" not in stdout + stderr
    time.sleep(0.1)  # the orphan is reaped by init
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == "zombie"
    (ev,) = json.loads(summary.read_text())["loadgen"]["events"]
    assert ev["ok"] is False and "cancelled: interrupted by signal" in ev["output_tail"]
    points = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["data"]["tags"]["event"] for p in points
            if p["metric"] == "loadgen_event" and p["type"] == "Point"] == ["long"]


RECOVERY = """
from loadgen import At, ConstantArrivalRate, HttpCall, Recovery, Scenario

class S(Scenario):
    executor = ConstantArrivalRate(rate=40, duration="5500ms", pre_allocated_vus=10)
    events = [At("2s", HttpCall("POST", "/admin/faults", json={{"mode": "{mode}"}}),
                 name="break"),
              At("3500ms", HttpCall("POST", "/admin/faults", json={{"mode": "ok"}}),
                 name="heal")]
    recovery = [Recovery(after="break", until="heal", within="3s", tolerance=1.0)]

    async def iteration(self, vu):
        await vu.http.get("/")
"""


@pytest.mark.parametrize(("mode", "answering"), [("error", True), ("drop", False)])
def test_a_faulted_service_recovers_and_the_verdict_measures_it(
        tmp_path: Path, mode: str, answering: bool) -> None:
    summary = tmp_path / "summary.json"
    with fault_server() as base:
        r = run_cli("run", write(tmp_path, RECOVERY.format(mode=mode)), "-q",
                    "--summary-json", str(summary), env={"BASE_URL": base})
    check(r, 0, 5.5)
    data = json.loads(summary.read_text())
    lg = data["loadgen"]
    assert [(e["name"], e["ok"], e["status"]) for e in lg["events"]] == [
        ("break", True, 200), ("heal", True, 200)]
    (rec,) = lg["recovery"]
    assert rec["event"] == "break" and rec["passed"] is True, rec
    assert 0 <= rec["recovery_s"] <= 2.0  # the service heals at once: the first whole intervals
    # 1.5 s of fault: however it straddles the 1 s intervals, one of them is mostly errors
    # (a fault of exactly 1 s could split 46/54 and less, with the break's own latency)
    assert rec["peak_error_rate"] >= 0.5 and rec["kept_answering"] is answering
    assert lg["verdicts"]["s"]["kind"] == "recovery"
    assert "✓ s (recovery): recovered" in r.out
    # the events' own requests are not the scenario's: every request is an iteration's
    m = data["metrics"]
    assert m["http_reqs"]["values"]["count"] == m["iterations"]["values"]["count"]


def test_under_workers_events_run_once_on_the_coordinator(tmp_path: Path) -> None:
    summary, out = tmp_path / "summary.json", tmp_path / "out.ndjson"
    with fault_server() as base:
        r = run_cli("run", write(tmp_path, RECOVERY.format(mode="error")), "-q",
                    "--workers", "2", "--summary-json", str(summary),
                    "-o", f"json={out}?points=buckets", env={"BASE_URL": base})
        with urllib.request.urlopen(f"{base}/admin/count", timeout=5) as resp:
            posts = json.load(resp)["posts"]
    check(r, 0, 5.5 + START_S)  # two more interpreters start
    assert posts == 2  # break and heal, once each, not once per worker
    lg = json.loads(summary.read_text())["loadgen"]
    assert [e["name"] for e in lg["events"]] == ["break", "heal"]
    (rec,) = lg["recovery"]
    assert rec["passed"] is True and rec["peak_error_rate"] >= 0.5, rec
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["data"]["tags"]["event"] for p in lines if p["metric"] == "loadgen_event"
            and p["type"] == "Point"] == ["break", "heal"]


def test_events_off_runs_the_same_file_without_them(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    with fault_server() as base:
        r = run_cli("run", write(tmp_path, RECOVERY.format(mode="error")), "-q", "-d", "2s",
                    "--events-off", "--summary-json", str(summary), env={"BASE_URL": base})
    check(r, 0, 2)
    lg = json.loads(summary.read_text())["loadgen"]
    assert "events" not in lg and "recovery" not in lg and "EVENTS" not in r.out
    assert "--events-off: 2 event(s) and 1 recovery verdict(s) left out" in r.err
    assert os.path.getsize(summary) > 0
