"""The scenario catalog against the reference service: every scenario runs (scaled down by the
command line) and passes its threshold file, every threshold file validates against the
metrics its scenario defines, and injected faults make the matching thresholds fail.

Why it is built like this:

* **Real processes.** The demo runs as its own process (`python -m loadgen.demo`) and every
  scenario through the real CLI (`python -m loadgen run -q ... --summary-json`), exactly as a
  user runs them, so imports between scenario files, `default_base_url`/`BASE_URL`, threshold
  files and exit codes are all covered.
* **Within about a minute.** The catalog runs are started together, a few at a time, by one
  module fixture (they are I/O-bound at these rates); each parametrized test then checks its
  own run. Fault tests get a fresh demo each, so a fault never leaks into another run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from servers import free_port

from loadgen.metrics.model import MetricType
from loadgen.metrics.registry import Registry
from loadgen.metrics.selectors import parse_selector
from loadgen.scripting.scenario import load_file
from loadgen.thresholds import load_threshold_file, merge_thresholds, validate

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
THRESHOLDS = ROOT / "thresholds"
# imported by scenarios, not scenarios themselves
HELPERS = {"common", "journey", "resilience", "fault_checks"}
NOT_CATALOG = {"smoke"}  # the README's http.server example (GET /), not a demo scenario
# these break the service they run against: test_resilience_catalog gives each its own demo
RESILIENCE = {"storage_mix", "consumer_resilience", "broker_partition", "pool_exhaustion",
              "cascading_failure", "migration_under_load"}
ENV = {k: v for k, v in os.environ.items() if k != "BASE_URL"} | {"PYTHONUNBUFFERED": "1"}
SHORT_THINK = ["-e", "THINK_TIME=0.05,0.2"]

TRACKED = ["messages_sent", "messages_delivered", "messages_lost", "delivery_latency"]
WS = ["ws_sessions", "ws_connecting", "ws_session_duration"]


@dataclass
class Case:
    flags: list[str]
    metrics: list[str]
    verdict: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


CATALOG: dict[str, Case] = {
    "message_soak": Case(["--rps", "20", "--duration", "3s"],
                         TRACKED + WS + ["http_req_duration", "ws_msgs_received"]),
    "conversation_stress": Case(["--rps", "20", "--duration", "3s"],
                                ["http_reqs{status:409}", "http_reqs{status:403}",
                                 "http_req_failed", "checks"]),
    "participant_invalidation": Case(["--rps", "20", "--duration", "3s"],
                                     ["stale_reads", "checks", "http_req_duration"]),
    "mixed_load": Case(["--rps", "20", "--duration", "3s"],
                       TRACKED + WS + ["ws_unexpected_disconnects"]),
    "large_payload": Case(["--rps", "20", "--duration", "3s"],
                          TRACKED + ["payload_checks", "payload_corruptions"]),
    "sustained_login": Case(["--rps", "20", "--duration", "3s"],
                            ["login_success", "http_req_duration"]),
    "multi_user_conversation": Case(["--vus", "5", "--duration", "3s"],
                                    TRACKED + WS + ["cross_conversation_leaks",
                                                    "messages_duplicated"]),
    "websocket_longevity": Case(["--vus", "5", "--duration", "3s"],
                                WS + ["ws_ping", "ws_unexpected_disconnects", "ws_errors"]),
    "matches": Case(["--rps", "20", "--duration", "3s"],
                    ["http_req_duration{name:GET /api/match/top}", "checks"]),
    "outreach": Case(["--vus", "5", "--duration", "3s"],
                     ["http_req_duration{name:POST /api/outreach/start}", "checks"]),
    "audit": Case(["--vus", "5", "--duration", "3s"],
                  ["http_req_duration{name:POST /api/audit/run}", "checks"]),
    "baseline": Case(["--vus", "10", "--duration", "6s", *SHORT_THINK],
                     ["http_req_duration", "group_duration{group:::dashboard}"], verdict=True),
    "peak": Case(["--vus", "10", "--duration", "6s", *SHORT_THINK],
                 ["http_req_duration", "group_duration{group:::dashboard}"], verdict=True),
    "spike": Case(["--vus", "10", "--duration", "8s", *SHORT_THINK],
                  ["http_req_failed", "checks"], verdict=True),
    "stress": Case(["--rps", "30", "--duration", "6s"], ["checks", "http_reqs"], verdict=True),
    "soak": Case(["--vus", "10", "--duration", "8s", *SHORT_THINK],
                 ["http_req_duration", "checks"], verdict=True),
    "work_orders": Case(["--rps", "20", "--duration", "4s"],
                        ["group_duration{group:::work_order}",
                         "group_duration{group:::inventory}"]),
}


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.py")
                  if p.stem not in HELPERS | NOT_CATALOG | RESILIENCE)


# -- processes ------------------------------------------------------------------------------
@dataclass
class Demo:
    url: str
    proc: subprocess.Popen[bytes]

    def faults(self, **faults: Any) -> None:
        req = urllib.request.Request(f"{self.url}/admin/faults", method="POST",
                                     data=json.dumps(faults).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as r:
            return str(r.read().decode())


def start_demo() -> Demo:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "loadgen.demo", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
                if r.status == 200:
                    return Demo(url, proc)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError("the demo service did not start")


def stop_demo(demo: Demo) -> None:
    demo.proc.terminate()
    try:
        demo.proc.wait(10)
    except subprocess.TimeoutExpired:
        demo.proc.kill()
        demo.proc.wait()


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    d = start_demo()
    yield d
    stop_demo(d)


@pytest.fixture
def fresh_demo() -> Iterator[Demo]:
    d = start_demo()
    yield d
    stop_demo(d)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    summary: dict[str, Any]

    def explain(self) -> str:
        return (f"exit {self.code}\n--- stdout\n{self.stdout[-4000:]}\n"
                f"--- stderr\n{self.stderr[-3000:]}")


def run_scenario(name: str, url: str, flags: list[str], tmp: Path, *,
                 thresholds: bool = True) -> Run:
    out = tmp / f"{name}.summary.json"
    cmd = [sys.executable, "-m", "loadgen", "run", "-q", str(SCENARIOS / f"{name}.py"),
           f"--summary-json={out}", *flags]
    if thresholds:
        cmd += ["--thresholds", str(THRESHOLDS / f"{name}.yaml")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp,
                       env={**ENV, "BASE_URL": url})
    summary = json.loads(out.read_text()) if out.exists() else {}
    return Run(p.returncode, p.stdout, p.stderr, summary)


@pytest.fixture(scope="module")
def catalog_runs(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every catalog scenario, scaled down, three at a time against one demo."""
    tmp = tmp_path_factory.mktemp("catalog")
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {n: pool.submit(run_scenario, n, demo.url, c.flags, tmp)
                   for n, c in CATALOG.items()}
        return {n: f.result() for n, f in futures.items()}


# -- the catalog is complete and consistent -------------------------------------------------
def test_every_scenario_has_a_case_a_threshold_file_and_a_docstring():
    names = scenario_names()
    assert sorted(CATALOG) == names
    for n in names + sorted(RESILIENCE):
        assert (THRESHOLDS / f"{n}.yaml").is_file(), n
        text = (SCENARIOS / f"{n}.py").read_text()
        assert text.startswith('"""') and "loadgen run scenarios/" in text, n
    assert (THRESHOLDS / "message_soak_scrape.yaml").is_file()


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_scenarios_point_at_the_local_demo_by_default(name):
    classes, _ = load_file(SCENARIOS / f"{name}.py")
    for cls in classes:
        assert cls.default_base_url == "http://127.0.0.1:8000", cls
        assert cls.base_url is None, cls  # BASE_URL wins over the default


def metric_types(name: str) -> tuple[dict[str, MetricType], dict[str, list[Any]]]:
    """The metrics a scenario file defines (built-ins + declared) and its own thresholds."""
    classes, custom = load_file(SCENARIOS / f"{name}.py")
    reg = Registry()
    for m in custom:
        reg.define(m.name, m.type, m.contains)
    own = merge_thresholds([c.effective_thresholds() for c in classes])
    return {n: m.type for n, m in reg.metrics.items()}, own


@pytest.mark.parametrize("yaml_file", sorted(p.name for p in THRESHOLDS.glob("*.yaml")))
def test_threshold_files_validate_against_their_scenarios_metrics(yaml_file):
    raw = load_threshold_file(THRESHOLDS / yaml_file)
    assert raw, yaml_file
    name = yaml_file.removesuffix(".yaml").removesuffix("_scrape")
    if not (SCENARIOS / f"{name}.py").is_file():  # a team's example (slo_example): built-ins
        types, own = {n: m.type for n, m in Registry().metrics.items()}, {}
    else:
        types, own = metric_types(name)
    if yaml_file.endswith("_scrape.yaml"):  # scraped series are gauges, as loadgen makes them
        for key in raw:
            types.setdefault(parse_selector(key).parent, MetricType.GAUGE)
    assert validate(merge_thresholds([own, raw]), types) == []
    # no expression both in the file and in the scenario (it would be judged twice)
    for key, entries in raw.items():
        assert not set(map(str, entries)) & set(map(str, own.get(key, []))), (yaml_file, key)


def test_scrape_thresholds_name_series_the_demo_really_exports(demo: Demo):
    """A threshold on a scraped name the target never exports would read 0 and pass
    vacuously: every selector of the scrape file must match a real series."""
    text = demo.metrics_text()
    raw = load_threshold_file(THRESHOLDS / "message_soak_scrape.yaml")
    for key in raw:
        sel = parse_selector(key)
        labels = [f'{k}="{v}"' for k, v in (sel.tags or ())]
        lines = [ln for ln in text.splitlines() if ln.startswith((sel.parent + " ",
                                                                   sel.parent + "{"))]
        assert any(all(lb in ln for lb in labels) for ln in lines), key


# -- every scenario runs and passes ---------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CATALOG))
def test_scenario_runs_against_the_demo_and_passes_its_thresholds(name, catalog_runs):
    run, case = catalog_runs[name], CATALOG[name]
    assert run.code == 0, run.explain()
    metrics = run.summary["metrics"]
    missing = [m for m in case.metrics if m not in metrics]
    assert not missing, (missing, sorted(metrics))
    for key in load_threshold_file(THRESHOLDS / f"{name}.yaml"):
        assert all(t["ok"] for t in metrics[key]["thresholds"].values()), (key, metrics[key])
    assert "level=ERROR" not in run.stderr and "Traceback" not in run.stderr, run.stderr
    if case.verdict:
        verdicts = run.summary["loadgen"]["verdicts"]
        # 8 s of soak cannot show drift (too few intervals for significance): "?" is right
        assert verdicts and all(v["ok"] or (v["kind"] == "soak" and v["ok"] is None)
                                for v in verdicts.values()), verdicts


def test_tracked_messages_all_arrive_in_the_scaled_message_soak(catalog_runs):
    m = catalog_runs["message_soak"].summary["metrics"]
    sent = m["messages_sent"]["values"]["count"]
    assert sent >= 40  # 20/s for 3 s, less the first instants while sockets connect
    assert m["messages_delivered"]["values"]["count"] == sent
    assert m["messages_lost"]["values"]["count"] == 0


def test_conflicts_happen_and_nothing_else_fails(catalog_runs):
    m = catalog_runs["conversation_stress"].summary["metrics"]
    assert m["http_reqs{status:409}"]["values"]["count"] > 0
    assert m["http_reqs{status:403}"]["values"]["count"] > 0
    assert m["http_req_failed"]["values"]["rate"] == 0


# -- faults make the thresholds fail --------------------------------------------------------
def threshold_failed(run: Run, key: str) -> bool:
    return not all(t["ok"] for t in run.summary["metrics"][key]["thresholds"].values())


def test_a_stall_fails_the_p95_threshold_with_exit_99(fresh_demo: Demo, tmp_path):
    # only the endpoint under test stalls: the logins in setup() still get through
    fresh_demo.faults(stall_seconds=4, paths=["/api/match"])
    run = run_scenario("matches", fresh_demo.url, ["--rps", "20", "--duration", "3s"], tmp_path)
    assert run.code == 99, run.explain()
    key = "http_req_duration{name:GET /api/match/top}"
    assert threshold_failed(run, key)
    assert run.summary["metrics"][key]["values"]["p(95)"] > 800


def test_dropped_deliveries_fail_the_messages_lost_threshold(fresh_demo: Demo, tmp_path):
    fresh_demo.faults(drop_every=5)
    run = run_scenario("message_soak", fresh_demo.url, ["--rps", "20", "--duration", "3s"],
                       tmp_path)
    assert run.code == 99, run.explain()
    m = run.summary["metrics"]
    sent, lost = m["messages_sent"]["values"]["count"], m["messages_lost"]["values"]["count"]
    assert lost == pytest.approx(sent / 5, abs=1)  # exactly the dropped ones, none else
    assert threshold_failed(run, "messages_lost")
    assert not threshold_failed(run, "http_req_duration")  # HTTP itself was fine


def test_corrupted_bytes_are_counted_and_fail_the_payload_threshold(fresh_demo: Demo, tmp_path):
    fresh_demo.faults(corrupt_every=3)
    run = run_scenario("large_payload", fresh_demo.url, ["--rps", "20", "--duration", "3s"],
                       tmp_path)
    assert run.code == 99, run.explain()
    m = run.summary["metrics"]
    checked = m["payload_checks"]["values"]["count"]
    bad = m["payload_corruptions"]["values"]["count"]
    assert checked >= 40 and bad == pytest.approx(checked / 3, abs=1)
    assert threshold_failed(run, "payload_corruptions")
    assert m["messages_lost"]["values"]["count"] == 0  # corrupted, not lost
    assert "payload integrity check failed" in run.stderr


def test_server_closed_sockets_fail_the_disconnect_threshold(fresh_demo: Demo, tmp_path):
    fresh_demo.faults(close_code=1011)
    run = run_scenario("websocket_longevity", fresh_demo.url, ["--vus", "3", "--duration", "2s"],
                       tmp_path)
    assert run.code == 99, run.explain()
    assert run.summary["metrics"]["ws_unexpected_disconnects"]["values"]["count"] >= 3
    assert threshold_failed(run, "ws_unexpected_disconnects")
