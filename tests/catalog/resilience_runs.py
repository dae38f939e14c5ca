"""Runs of the resilience scenarios for test_resilience_catalog: each against a demo process
of its own (these scenarios break the service they run against, so they cannot share one),
through the real CLI, scaled down by the environment (`DURATION`, `FAULT_AT`, `RATE`,
`FAULT_S`, ...): the scenarios' events follow DURATION, which --duration would not move.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servers import free_port

ROOT = Path(__file__).resolve().parents[2]
BASE_ENV = {k: v for k, v in os.environ.items()
            if k not in ("BASE_URL", "FAULT_JSON", "DURATION", "FAULT_AT", "FAULT_S")}


@dataclass
class Job:
    """One scaled run: the scenario, how its demo is started and broken, what it must give."""

    scenario: str
    expect: int
    env: dict[str, str] = field(default_factory=dict)
    demo_args: list[str] = field(default_factory=list)
    preset: dict[str, Any] | None = None  # a fault set POSTed before the run starts
    duration: str = "6s"  # DURATION: the run's length, the fault's offsets with it


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    summary: dict[str, Any]
    seconds: float

    def explain(self) -> str:
        return (f"exit {self.code} after {self.seconds:.1f} s\n--- stdout\n"
                f"{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-3000:]}")

    def metric(self, name: str) -> dict[str, Any]:
        return dict(self.summary["metrics"][name])

    def events(self) -> dict[str, dict[str, Any]]:
        """The run's events by name (`loadgen.events` of the summary)."""
        return {e["name"]: e for e in self.summary.get("loadgen", {}).get("events", [])}

    def recovery(self) -> dict[str, dict[str, Any]]:
        """The recovery verdicts by their fault event (`loadgen.recovery`)."""
        return {r["event"]: r for r in self.summary.get("loadgen", {}).get("recovery", [])}

    def failed(self) -> set[str]:
        """What failed the run: metrics with a failed threshold, `event:NAME` for a failed
        required event, `recovery:EVENT` for a failed recovery verdict."""
        return ({name for name, m in self.summary.get("metrics", {}).items()
                 if not all(t["ok"] for t in m.get("thresholds", {}).values())}
                | {f"event:{n}" for n, e in self.events().items() if e["required"] and not e["ok"]}
                | {f"recovery:{n}" for n, r in self.recovery().items() if r["passed"] is False})


def post_faults(url: str, body: dict[str, Any]) -> None:
    req = urllib.request.Request(f"{url}/admin/faults", method="POST",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200


def start_demo(args: list[str]) -> tuple[str, subprocess.Popen[bytes]]:
    """A demo on a free port; tried again on another port when the one picked was taken
    meanwhile (other processes on this machine start servers too), and only trusted once
    /health answers as the demo does, from a process that is still running."""
    for _ in range(3):
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "loadgen.demo", "--port", str(port),
                                 *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                    doc = json.loads(r.read())
                if proc.poll() is None and isinstance(doc, dict) and "storage_pool" in doc:
                    return url, proc
            except (OSError, ValueError):
                time.sleep(0.05)
        stop_demo(proc)
    raise RuntimeError("the demo service did not start")


def stop_demo(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_job(job: Job, tmp: Path, tag: str) -> Result:
    """The run, or a Result saying why there was none (one broken job fails its own tests,
    not every test of the module)."""
    try:
        return _run(job, tmp, tag)
    except Exception as exc:  # noqa: BLE001 (reported through the Result)
        return Result(-1, "", f"no run: {exc!r}", {}, 0.0)


def _run(job: Job, tmp: Path, tag: str) -> Result:
    url, proc = start_demo(job.demo_args)
    try:
        if job.preset is not None:
            post_faults(url, job.preset)
        out = tmp / f"{tag}.summary.json"
        cmd = [sys.executable, "-m", "loadgen", "run", "-q",
               str(ROOT / "scenarios" / f"{job.scenario}.py"),
               "--thresholds", str(ROOT / "thresholds" / f"{job.scenario}.yaml"),
               f"--summary-json={out}"]
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=tmp,
                           env={**BASE_ENV, "BASE_URL": url, "PYTHONUNBUFFERED": "1",
                                "DURATION": job.duration, **job.env})
        seconds = time.monotonic() - t0
    finally:
        stop_demo(proc)
    summary = json.loads(out.read_text()) if out.exists() else {}
    return Result(p.returncode, p.stdout, p.stderr, summary, seconds)
