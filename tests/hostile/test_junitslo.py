"""JUnit reports, per-endpoint SLOs, the by-name table, trace ids and the slowest requests
through the real CLI, against a loopback service whose /messages is slow on purpose.

Each case asserts the exit code, the message, no traceback, a bounded RSS and an end within
the run's length plus a margin (interpreter start-up included)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import junitparser
import pytest
from endpoint_servers import Seen, endpoint_server
from hostile_run import CliRun, run_cli
from junit_shape import check_junit_shape

RSS_MB = 300
START_S = 6.0  # an interpreter importing loadgen on a busy 2-core machine
SCENARIO = """
from loadgen import Scenario, SharedIterations

class Api(Scenario):
    executor = SharedIterations(vus=2, iterations=12, max_duration="5s")
    slo = {"dashboard": {"p95": 300, "p99": 500}}

    async def iteration(self, vu):
        r = await vu.http.get("/dashboard", name="dashboard")
        vu.check(r, {"status is 200": lambda r: r.status == 200})
        await vu.http.get("/messages", name="messages")
"""
LONG = """
from loadgen import ConstantVUs, Scenario

class Long(Scenario):
    executor = ConstantVUs(vus=2, duration="30s")

    async def iteration(self, vu):
        await vu.http.get("/messages", name="messages")
"""
SLO_FILE = "slo:\n  messages: {p95: 20, error_rate: 0.01}\n  dashboard: {p95: 300}\n"


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[str, Seen]]:
    with endpoint_server(slow_ms=100) as got:
        yield got


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def clean(r: CliRun, code: int, within_s: float) -> None:
    r.assert_ended(code, within_s, RSS_MB)


def junit_cases(path: Path) -> dict[str, junitparser.TestCase]:
    assert check_junit_shape(path.read_text()) == []
    (suite,) = list(junitparser.JUnitXml.fromfile(str(path)))
    return {c.name: c for c in suite}


def test_a_broken_slo_fails_the_run_and_the_reports_name_the_slow_endpoint(
        tmp_path: Path, service: tuple[str, Seen]) -> None:
    url, seen = service
    junit, hs = tmp_path / "j.xml", tmp_path / "h.json"
    seen.requests.clear()
    r = run_cli("run", write(tmp_path, "s.py", SCENARIO), "--thresholds",
                write(tmp_path, "slo.yaml", SLO_FILE), "--junit", str(junit), "--summary-json",
                str(hs), "--slowest", "3", "--summary-by-name", "--trace-header",
                env={"BASE_URL": url})
    clean(r, 99, 5 + START_S)
    cases = junit_cases(junit)
    broken = cases["http_req_duration{name:messages}: p(95)<20"]
    assert not broken.is_passed
    observed = re.search(r"observed p\(95\)=([\d.]+) ms", broken.result[0].message)
    assert observed and float(observed.group(1)) >= 100  # the server's delay
    assert "limit < 20 ms" in broken.result[0].message
    assert cases["http_req_duration{name:dashboard}: p(95)<300"].is_passed
    assert cases["http_req_failed{name:messages}: rate<0.01"].is_passed
    assert cases["status is 200"].is_passed
    section = json.loads(hs.read_text())["loadgen"]
    assert section["slo"]["messages"] == {"p95": 20, "error_rate": 0.01}
    slowest = section["slowest_requests"]
    assert len(slowest) == 3 and {s["name"] for s in slowest} == {"messages"}
    sent = {v.split("-")[1] for v in seen.header("traceparent")}
    assert len(sent) == 24 and {s["trace_id"] for s in slowest} <= sent
    assert {e["name"]: e["count"] for e in section["endpoints"]} == {"dashboard": 12,
                                                                    "messages": 12}
    table = r.out[r.out.index("█ BY NAME"):]
    assert "✗<20ms" in table and "█ SLOWEST REQUESTS" in r.out
    assert "thresholds on metrics 'http_req_duration{name:messages}'" in r.err


def test_an_interrupted_run_still_writes_its_junit_report(
        tmp_path: Path, service: tuple[str, Seen]) -> None:
    url, seen = service
    junit = tmp_path / "j.xml"
    seen.requests.clear()
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen", "run", write(tmp_path, "l.py", LONG), "-q",
         "--junit", str(junit)], env={**os.environ, "BASE_URL": url},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + START_S
    while not seen.requests and time.monotonic() < deadline:  # until the load runs
        time.sleep(0.05)
    assert seen.requests, "the run never reached the server"
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=15)
    r = CliRun(proc.returncode, stdout.decode(), stderr.decode(), time.monotonic() - t0, 0.0)
    clean(r, 105, START_S + 5)
    run = junit_cases(junit)["run completed"]
    assert isinstance(run.result[0], junitparser.Error)
    assert "exit code 105" in run.result[0].message


@pytest.mark.parametrize(("args", "files", "needles"), [
    (["--thresholds", "bad.yaml"], {"bad.yaml": "slo:\n  m: {p95: -1, fastest: 2}\n"},
     ["slo.m.p95: a budget cannot be negative", "unknown stat 'fastest'"]),
    (["--thresholds", "bad.yaml"], {"bad.yaml": "slo: [messages]\n"},
     ["slo must be a mapping"]),
    (["--slowest", "-1", "--trace-header=bad name"], {},
     ["--slowest must be 0 (off)", "--trace-header 'bad name'"]),
])
def test_bad_input_exits_104_naming_every_problem(
        tmp_path: Path, args: list[str], files: dict[str, str], needles: list[str]) -> None:
    for name, text in files.items():
        write(tmp_path, name, text)
    r = run_cli("run", write(tmp_path, "s.py", SCENARIO), *args, cwd=str(tmp_path),
                env={"BASE_URL": "http://127.0.0.1:9"})
    clean(r, 104, START_S)
    for needle in needles:
        assert needle in r.err, r.err


def test_a_bad_scenario_slo_exits_104(tmp_path: Path) -> None:
    text = SCENARIO.replace('{"dashboard": {"p95": 300, "p99": 500}}', '"fast"')
    r = run_cli("run", write(tmp_path, "s.py", text), env={"BASE_URL": "http://127.0.0.1:9"})
    clean(r, 104, START_S)
    assert "scenario Api: slo must be a mapping" in r.err


def test_workers_send_their_slowest_and_the_coordinator_keeps_the_slowest_of_all(
        tmp_path: Path, service: tuple[str, Seen]) -> None:
    url, _ = service
    junit, hs = tmp_path / "j.xml", tmp_path / "h.json"
    r = run_cli("run", write(tmp_path, "s.py", SCENARIO), "--workers", "2", "--slowest", "4",
                "--junit", str(junit), "--summary-json", str(hs), "--trace-header",
                env={"BASE_URL": url})
    clean(r, 0, 5 + 2 * START_S)
    section = json.loads(hs.read_text())["loadgen"]
    slowest = section["slowest_requests"]
    assert len(slowest) == 4 and {s["name"] for s in slowest} == {"messages"}
    assert all(len(s["trace_id"]) == 32 for s in slowest)
    durations = [s["duration_ms"] for s in slowest]
    assert durations == sorted(durations, reverse=True)
    assert {e["name"]: e["count"] for e in section["endpoints"]}["messages"] == 12
    assert junit_cases(junit)["http_req_duration{name:dashboard}: p(95)<300"].is_passed


def test_http_and_merge_write_junit_too(tmp_path: Path, service: tuple[str, Seen]) -> None:
    url, seen = service
    junit, archive, merged = tmp_path / "j.xml", tmp_path / "a.ndjson", tmp_path / "m.xml"
    seen.requests.clear()
    r = run_cli("http", "GET", url + "/messages", "-i", "3", "--junit", str(junit),
                "--trace-header=X-Trace-Id", "--archive", str(archive), "--thresholds",
                write(tmp_path, "slo.yaml", SLO_FILE))
    clean(r, 99, 3 + START_S)
    assert len(seen.header("x-trace-id")) == 3
    (suite,) = list(junitparser.JUnitXml.fromfile(str(junit)))
    assert suite.failures >= 1
    hs = tmp_path / "h.json"
    r = run_cli("merge", str(archive), "--junit", str(merged), "--summary-json", str(hs))
    clean(r, 99, START_S)  # the SLOs travel in the archive: judged, and their budgets shown
    cases = junit_cases(merged)
    assert not cases["http_req_duration{name:messages}: p(95)<20"].is_passed
    assert json.loads(hs.read_text())["loadgen"]["slo"]["messages"]["p95"] == 20
