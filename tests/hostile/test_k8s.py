"""Workers over TCP and `loadgen k8s`, through the real CLI on 127.0.0.1.

The printed manifest is checked with the kubernetes client's own models, then its exact pod
commands run here as the Job would run them (JOB_COMPLETION_INDEX 0..N, loopback instead of
the Service): the coordinator's exit code and merged counts. Also: a port in use (104), a
wrong token and a duplicate index rejected, a worker killed mid-run reported as lost (110).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from fleet_scenarios import abort_scenario, kill_scenario
from hostile_run import CliRun, run_cli
from k8s_pods import Pods
from servers import free_port, serve

RSS_MB = 400
START_S = 8.0  # interpreters importing loadgen on a busy 2-core machine, joins included
SHARED = """
from loadgen import Scenario, SharedIterations

class S(Scenario):
    executor = SharedIterations(vus=3, iterations=10, max_duration="5s")

    async def iteration(self, vu):
        r = await vu.http.get("/")
        vu.check(r, {"status is 200": lambda r: r.status == 200})
"""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve() as url:
        yield url


def clean(r: CliRun, code: int, within_s: float) -> None:
    r.assert_ended(code, within_s, RSS_MB)


def printed(tmp_path: Path, text: str, workers: int, *run_args: str) -> str:
    path = tmp_path / "checkout.py"
    path.write_text(text)
    r = run_cli("k8s", str(path), "--workers", str(workers), "--image", "reg/loadgen:1",
                "--namespace", "perf", *(("--", *run_args) if run_args else ()))
    clean(r, 0, 10)
    return r.out


def worker(port: int, index: int, token: str, log: Path, base_url: str,
           timeout: str = "20") -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        return subprocess.Popen(  # noqa: S603 - our own CLI

            [sys.executable, "-m", "loadgen", "worker", "--connect", f"127.0.0.1:{port}",
             "--index", str(index), "--token", token, "--connect-timeout", timeout],
            stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "BASE_URL": base_url})


def wait_for(log: Path, text: str, within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while text not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def test_the_manifest_is_a_valid_indexed_job(tmp_path: Path):
    from kubernetes.client import ApiClient

    text = printed(tmp_path, SHARED, 3)
    docs = {d["kind"]: d for d in yaml.safe_load_all(text)}
    api = ApiClient()
    load = api._ApiClient__deserialize  # type: ignore[attr-defined]
    job, svc = load(docs["Job"], "V1Job"), load(docs["Service"], "V1Service")
    cm, secret = load(docs["ConfigMap"], "V1ConfigMap"), load(docs["Secret"], "V1Secret")
    spec = job.spec
    assert spec.completion_mode == "Indexed" and spec.completions == spec.parallelism == 4
    assert spec.backoff_limit == 0
    assert spec.success_policy.rules[0].succeeded_indexes == "0"
    rule = spec.pod_failure_policy.rules[0]
    assert rule.action == "FailJob" and rule.on_exit_codes.operator == "NotIn"
    assert rule.on_exit_codes.values == [0]  # 99 (a failed gate) fails the Job, never re-runs
    pod = spec.template.spec
    assert pod.restart_policy == "Never"  # what a podFailurePolicy requires
    c = pod.containers[0]
    assert c.image == "reg/loadgen:1" and c.name == rule.on_exit_codes.container_name
    assert c.command[:2] == ["loadgen", "pod"] and c.command[3:5] == ["--workers", "3"]
    mount = c.volume_mounts[0]
    assert c.command[2] == f"{mount.mount_path}/checkout.py"
    assert pod.volumes[0].config_map.name == cm.metadata.name
    assert cm.data["checkout.py"] == SHARED
    assert "checkout.py: |" in text  # the scenario reads as written, not as one escaped line
    env = {e.name: e for e in c.env}
    assert env["LOADGEN_FLEET_TOKEN"].value_from.secret_key_ref.name == secret.metadata.name
    assert len(secret.string_data["token"]) >= 32
    port = svc.spec.ports[0].port
    assert env["LOADGEN_COORDINATOR"].value == f"{svc.metadata.name}.perf.svc:{port}"
    assert env["LOADGEN_LISTEN"].value == f"0.0.0.0:{port}"
    assert svc.spec.cluster_ip == "None"  # headless: the coordinator pod's own address
    assert svc.spec.selector == {"job-name": job.metadata.name,
                                 "batch.kubernetes.io/job-completion-index": "0"}
    assert {o.metadata.namespace for o in (job, svc, cm, secret)} == {"perf"}


def test_the_pod_commands_run_one_fleet(tmp_path: Path, base_url: str):
    out = tmp_path / "export.json"
    summary = tmp_path / "summary.json"
    port = free_port()
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    text = printed(tmp_path, SHARED, 2, "--summary-export", str(out), "--summary-json",
                   str(summary), "-q", "-e", f"BASE_URL={base_url}")
    pods = Pods.from_yaml(text, mounted, port)
    extra = {"BASE_URL": "http://127.0.0.1:9/"}  # the manifest's -e wins: it reached every pod
    workers = [pods.start(i, tmp_path / f"pod{i}.log", extra) for i in (1, 2)]
    try:
        r = run_cli(*pods.argv(), env=pods.env(0, extra), timeout=40)
        codes = [w.wait(10) for w in workers]
    finally:
        for w in workers:
            w.kill()
    clean(r, 0, 5 + START_S)
    assert codes == [0, 0], [(tmp_path / f"pod{i}.log").read_text() for i in (1, 2)]
    m = json.loads(out.read_text())["metrics"]
    assert m["iterations"]["count"] == 10 and m["http_reqs"]["count"] == 10
    assert m["checks"]["passes"] == 10
    fleet = json.loads(summary.read_text())["loadgen"]["fleet"]
    assert fleet["workers"] == 2 and fleet["lost"] == []
    assert [c["worker"] for c in fleet["clocks"]] == [0, 1]
    assert all(abs(c["offset_ms"]) < 100 for c in fleet["clocks"])  # one machine, one clock
    assert fleet["chosen"] == f"joining over TCP at 127.0.0.1:{port}"
    assert f"waiting for 2 worker(s) to connect to 127.0.0.1:{port}" in r.err


def test_a_failed_gate_is_the_coordinators_exit_alone(tmp_path: Path, base_url: str):
    """abortOnFail stops every worker with 99; only the coordinator pod may exit 99, else
    a worker pod's failure would fail the Job before the coordinator wrote its results."""
    summary = tmp_path / "summary.json"
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    manifest = printed(tmp_path, abort_scenario(), 2, "--summary-json", str(summary), "-q",
                       "-e", f"BASE_URL={base_url}")
    pods = Pods.from_yaml(manifest, mounted, free_port())
    workers = [pods.start(i, tmp_path / f"pod{i}.log") for i in (1, 2)]
    try:
        r = run_cli(*pods.argv(), env=pods.env(0), timeout=40)
        codes = [w.wait(10) for w in workers]
    finally:
        for w in workers:
            w.kill()
    clean(r, 99, 5 + START_S)  # abortOnFail within ~2 s, well before the 20 s
    assert codes == [0, 0], [(tmp_path / f"pod{i}.log").read_text() for i in (1, 2)]
    assert json.loads(summary.read_text())["loadgen"]["fleet"]["lost"] == []


def test_the_coordinator_port_in_use_is_104(tmp_path: Path):
    path = tmp_path / "s.py"
    path.write_text(SHARED)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_cli("run", str(path), "--workers", "1", "--listen", f"127.0.0.1:{port}",
                    "--fleet-token", "t", "-q")
    clean(r, 104, START_S)
    assert f"--listen 127.0.0.1:{port}: cannot listen there" in r.err


def test_listen_without_a_token_or_a_count_is_104(tmp_path: Path):
    path = tmp_path / "s.py"
    path.write_text(SHARED)
    r = run_cli("run", str(path), "--workers", "auto", "--listen", "127.0.0.1:1", "-q",
                env={"LOADGEN_FLEET_TOKEN": ""})
    clean(r, 104, START_S)
    assert "--listen needs a shared token" in r.err
    assert "--listen needs --workers N" in r.err


def test_a_wrong_token_and_a_second_index_are_turned_away(tmp_path: Path, base_url: str):
    path = tmp_path / "s.py"
    path.write_text(SHARED)
    port = free_port()
    with ThreadPoolExecutor(1) as pool:
        coordinator = pool.submit(
            run_cli, "run", str(path), "--workers", "2", "--listen", f"127.0.0.1:{port}",
            "--fleet-token", "right", "--join-timeout", "20", "-q",
            env={"BASE_URL": base_url}, timeout=40)
        stray = worker(port, 0, "wrong", tmp_path / "stray.log", base_url)
        assert stray.wait(20) == 104
        assert "rejected worker 0: wrong token" in (tmp_path / "stray.log").read_text()
        first = worker(port, 0, "right", tmp_path / "w0.log", base_url)
        wait_for(tmp_path / "w0.log", "joined 127.0.0.1")
        twin = worker(port, 0, "right", tmp_path / "twin.log", base_url)
        assert twin.wait(20) == 104
        assert "worker index 0 is already connected" in (
            tmp_path / "twin.log").read_text()
        second = worker(port, 1, "right", tmp_path / "w1.log", base_url)
        r = coordinator.result()
        assert first.wait(10) == 0 and second.wait(10) == 0
    clean(r, 0, 20 + START_S)
    assert "rejected a worker connection from 127.0.0.1" in r.err
    assert "wrong token" in r.err and "already connected" in r.err


def test_a_silent_worker_is_cut_off_and_stops_cleanly(tmp_path: Path, base_url: str):
    """The coordinator resets a silent worker's connection; when the worker wakes it sees
    the reset as the coordinator gone: it stops, without a stack trace."""
    path = tmp_path / "k.py"
    path.write_text(kill_scenario(how="time.sleep(6)"))
    port = free_port()
    with ThreadPoolExecutor(1) as pool:
        coordinator = pool.submit(
            run_cli, "run", str(path), "--workers", "2", "--listen", f"127.0.0.1:{port}",
            "--fleet-token", "t", "-q", env={"BASE_URL": base_url}, timeout=40)
        workers = [worker(port, i, "t", tmp_path / f"w{i}.log", base_url) for i in (0, 1)]
        try:
            r = coordinator.result()
            silent_code = workers[1].wait(10)
        finally:
            for w in workers:
                w.kill()
    clean(r, 110, 5 + 5 + START_S)
    assert "worker 1 (127.0.0.1:" in r.err and "lost: sent nothing for 5 s" in r.err
    log = (tmp_path / "w1.log").read_text()
    assert silent_code == 105 and "Traceback" not in log, log


def test_a_worker_killed_mid_run_is_reported_lost(tmp_path: Path, base_url: str):
    path = tmp_path / "k.py"
    path.write_text(kill_scenario())
    summary = tmp_path / "summary.json"
    port = free_port()
    with ThreadPoolExecutor(1) as pool:
        coordinator = pool.submit(
            run_cli, "run", str(path), "--workers", "2", "--listen", f"127.0.0.1:{port}",
            "--fleet-token", "t", "--summary-json", str(summary), "-q",
            env={"BASE_URL": base_url}, timeout=40)
        workers = [worker(port, i, "t", tmp_path / f"w{i}.log", base_url) for i in (0, 1)]
        try:
            r = coordinator.result()
            codes = [w.wait(10) for w in workers]
        finally:
            for w in workers:
                w.kill()
    clean(r, 110, 5 + START_S)  # well before the 20 s the scenario asks for
    assert "worker 1 (127.0.0.1:" in r.err
    assert "lost: its connection closed before it said it was done" in r.err
    assert codes[1] == -9 and codes[0] is not None
    lost = json.loads(summary.read_text())["loadgen"]["fleet"]["lost"]
    assert [x["worker"] for x in lost] == [1]


ON_TIME = """
import time
from loadgen import Scenario, SharedIterations

class S(Scenario):
    executor = SharedIterations(vus=2, iterations=10, max_duration="8s")

    async def setup(self):  # on the coordinator, just before T0; one machine, one monotonic
        return {"t": time.perf_counter()}

    async def iteration(self, vu):
        vu.check(vu.data, {"started on time": lambda d: time.perf_counter() - d["t"] < 2.5})
        await vu.http.get("/")
"""
LATE_WORKER = """
import sys, time
_real = time.time_ns
time.time_ns = lambda: _real() - 5_000_000_000  # this machine's wall clock is 5 s late
from loadgen.fleet.worker import main
main(sys.argv[1:])
"""


def test_a_worker_whose_clock_is_far_off_is_reported_and_still_starts_on_time(
        tmp_path: Path, base_url: str):
    path = tmp_path / "s.py"
    path.write_text(ON_TIME)
    summary = tmp_path / "summary.json"
    port = free_port()
    env = {**os.environ, "BASE_URL": base_url}
    with ThreadPoolExecutor(1) as pool:
        coordinator = pool.submit(
            run_cli, "run", str(path), "--workers", "2", "--listen", f"127.0.0.1:{port}",
            "--fleet-token", "t", "--summary-json", str(summary), "-q",
            env={"BASE_URL": base_url}, timeout=40)
        late = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-c", LATE_WORKER, "--connect", f"127.0.0.1:{port}", "--index",
             "1", "--token", "t", "--connect-timeout", "20"], env=env)
        on_time = worker(port, 0, "t", tmp_path / "w0.log", base_url)
        r = coordinator.result()
        assert late.wait(10) == 0 and on_time.wait(10) == 0
    clean(r, 0, 5 + START_S)
    data = json.loads(summary.read_text())
    fleet = data["loadgen"]["fleet"]
    offsets = {c["worker"]: c["offset_ms"] for c in fleet["clocks"]}
    assert abs(offsets[1] - 5000) < 100 and abs(offsets[0]) < 100
    assert any("worker 1 (127.0.0.1:" in w and "clock is +5.0" in w
               for w in data["loadgen"]["warnings"])
    # corrected by its offset, it started with the other one, not 5 s away
    assert fleet["start_skew_ms"] < 500 and abs(fleet["latest_start_after_t0_ms"]) < 500
    assert data["metrics"]["iterations"]["values"]["count"] == 10
    (checks,) = [c for c in data["root_group"]["checks"] if c["name"] == "started on time"]
    assert checks["passes"] == 10 and checks["fails"] == 0


@pytest.mark.parametrize(("args", "env", "message"), [
    (("k8s", "/nonexistent/s.py", "--workers", "2"), {}, "/nonexistent/s.py: cannot read"),
    (("k8s", "{path}", "--workers", "0"), {}, "--workers must be >= 1, not 0"),
    (("pod", "{path}", "--workers", "2"), {"JOB_COMPLETION_INDEX": "7"},
     "JOB_COMPLETION_INDEX='7': expected 0..2"),
    (("worker", "--connect", "127.0.0.1:{port}", "--index", "0", "--token", "t",
      "--connect-timeout", "0.5"), {}, "no coordinator answered within 0.5 s"),
    (("worker", "--connect", "nowhere", "--token", "t"), {}, "expected HOST:PORT"),
    (("run", "{path}", "--workers", "2", "--listen", "127.0.0.1:{port}", "--fleet-token", "t",
      "--ray"), {}, "--listen and --ray both place the workers"),
    (("run", "{path}", "--listen", "127.0.0.1:{port}", "--fleet-token", "t"), {},
     "--listen needs --workers N"),
])
def test_bad_pod_and_worker_input_is_104(tmp_path: Path, args: tuple[str, ...],
                                         env: dict[str, str], message: str):
    path = tmp_path / "s.py"
    path.write_text(SHARED)
    port = str(free_port())
    r = run_cli(*(a.format(path=path, port=port) for a in args), env=env)
    clean(r, 104, START_S)
    assert message in r.err


def test_workers_that_never_connect_end_the_run_by_the_join_deadline(tmp_path: Path):
    path = tmp_path / "s.py"
    path.write_text(SHARED)
    r = run_cli("run", str(path), "--workers", "2", "--listen", f"127.0.0.1:{free_port()}",
                "--fleet-token", "t", "--join-timeout", "1", "-q")
    clean(r, 110, 1 + START_S)
    assert "worker(s) 0, 1 did not connect" in r.err and "within 1 s" in r.err


def test_ctrl_c_while_waiting_for_workers_is_105(tmp_path: Path):
    path = tmp_path / "s.py"
    path.write_text(SHARED)
    log = tmp_path / "coordinator.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "loadgen", "run", str(path), "--workers", "2", "--listen",
             f"127.0.0.1:{free_port()}", "--fleet-token", "t", "-q"], stderr=err)
    try:
        wait_for(log, "waiting for 2 worker(s)")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(10)
    finally:
        proc.kill()
    assert code == 105 and time.monotonic() - t0 < 3
    text = log.read_text()
    assert "interrupted while the workers joined; nothing ran" in text
    assert "Traceback" not in text
