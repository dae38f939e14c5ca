"""`loadgen run` as a user runs it: a real process, real sockets, k6's exit codes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from aiohttp import web
from servers import make_app, serve

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def loadgen(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadgen", *args], capture_output=True,
                          text=True, timeout=timeout, env={**ENV, **(env or {})}, cwd=cwd)


def scenario(tmp_path: Path, body: str, name: str = "s.py") -> str:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return str(p)


SIMPLE = """
    from loadgen import Scenario, ConstantVUs

    class Hello(Scenario):
        executor = ConstantVUs(vus=2, duration="1s")

        async def iteration(self, vu):
            r = await vu.http.get("/")
            vu.check(r, {"ok": lambda r: r.status == 200})
            await vu.sleep(0.05)
"""


def test_run_against_a_loopback_server_with_shortcuts(tmp_path):
    f = scenario(tmp_path, SIMPLE)
    with serve() as url:
        p = loadgen("run", f, "--vus", "3", "--duration", "1s", env={"BASE_URL": url})
    assert p.returncode == 0, p.stderr
    assert "3 looping VUs for 1s" in p.stderr
    assert "http_reqs" in p.stdout


def test_rps_runs_the_open_model(tmp_path):
    f = scenario(tmp_path, SIMPLE)
    with serve() as url:
        p = loadgen("run", f, "--rps", "50", "--duration", "1s", "-q", env={"BASE_URL": url})
    assert p.returncode == 0, p.stderr
    assert "50.00 iterations/s for 1s" in loadgen("run", f, "--rps", "50", "--duration", "1s",
                                                  env={"BASE_URL": url}).stderr


@pytest.mark.parametrize(("args", "needles"), [
    (["--duration", "30x"], ["invalid duration '30x'"]),
    (["--iterations", "3", "--stage", "1s:2"],
     ["using `iterations` and `stages` options simultaneously is not allowed"]),
    (["--duration", "1s", "--stage", "1s:2"],
     ["using `duration` and `stages` options simultaneously is not allowed"]),
    (["-u", "2", "-i", "1"],
     ["the number of iterations (1) can't be less than the number of VUs (2)"]),
    (["--scenario", "nope"], ["unknown scenario(s) nope"]),
    (["--rps", "10"], ["--rps needs --duration"]),
    (["--stage", "bad"], ["invalid stage 'bad'"]),
])
def test_bad_flags_exit_104_with_a_clear_message(tmp_path, args, needles):
    f = scenario(tmp_path, SIMPLE)
    p = loadgen("run", f, *args)
    assert p.returncode == 104, (p.returncode, p.stderr)
    for n in needles:
        assert n in p.stderr


def test_every_problem_is_listed_at_once(tmp_path):
    f = scenario(tmp_path, """
        from loadgen import Scenario, ConstantArrivalRate, SharedIterations, Stage, RampingVUs

        class A(Scenario):
            executor = ConstantArrivalRate(rate=-1, duration="30x")
            async def iteration(self, vu): pass

        class B(Scenario):
            executor = SharedIterations(vus=0, iterations=1, max_duration="-5s")
            async def iteration(self, vu): pass

        class C(Scenario):
            executor = RampingVUs(stages=[("1s", -3)])
            async def iteration(self, vu): pass
    """)
    p = loadgen("run", f)
    assert p.returncode == 104
    for needle in ["scenario a has configuration errors: rate must be a number greater than 0",
                   "invalid duration '30x'", "pre_allocated_vus is required",
                   "scenario b has configuration errors: vus must be at least 1",
                   "must not be negative", "scenario c has configuration errors: stages: stage 0"]:
        assert needle in p.stderr, needle


def test_missing_file_and_file_without_scenarios_exit_104(tmp_path):
    p = loadgen("run", str(tmp_path / "nope.py"))
    assert p.returncode == 104 and "does not exist" in p.stderr
    f = scenario(tmp_path, "x = 1\n")
    p = loadgen("run", f)
    assert p.returncode == 104 and "defines no Scenario subclass" in p.stderr


def test_import_error_and_setup_error_exit_107(tmp_path):
    f = scenario(tmp_path, "import no_such_module_here\n")
    p = loadgen("run", f)
    assert p.returncode == 107 and "ModuleNotFoundError" in p.stderr
    f = scenario(tmp_path, """
        from loadgen import Scenario
        class S(Scenario):
            async def setup(self):
                raise ValueError("no token")
            async def iteration(self, vu): pass
    """, "setup.py")
    p = loadgen("run", f)
    assert p.returncode == 107 and "setup() raised ValueError: no token" in p.stderr


def test_iteration_errors_do_not_fail_the_run(tmp_path):
    f = scenario(tmp_path, """
        from loadgen import Scenario, PerVUIterations
        class S(Scenario):
            executor = PerVUIterations(vus=1, iterations=3)
            async def iteration(self, vu):
                raise KeyError("missing")
    """)
    p = loadgen("run", f, "-q")
    assert p.returncode == 0
    assert "iteration raised KeyError" in p.stderr
    assert p.stderr.count("iteration raised KeyError") == 1  # logged once, counted after


def test_setup_data_reaches_iterations_and_teardown(tmp_path):
    out = tmp_path / "out.txt"
    f = scenario(tmp_path, f"""
        from loadgen import Scenario, PerVUIterations
        class S(Scenario):
            executor = PerVUIterations(vus=2, iterations=2)
            async def setup(self):
                return {{"token": "t0k"}}
            async def iteration(self, vu):
                assert self.data["token"] == "t0k" and vu.data == self.data
            async def teardown(self, data):
                open({str(out)!r}, "w").write(data["token"])
    """)
    p = loadgen("run", f, "-q")
    assert p.returncode == 0, p.stderr
    assert out.read_text() == "t0k"


def test_ctrl_c_stops_gracefully_reports_and_exits_105(tmp_path):
    f = scenario(tmp_path, SIMPLE.replace('duration="1s"', 'duration="60s"'))
    served = threading.Event()

    def app() -> web.Application:
        """The usual app, telling the test when the run's first request arrives: the run is
        then under way (handlers installed), with no fixed sleep to guess when that is."""
        a = make_app()

        @web.middleware
        async def first(request: web.Request, handler):  # type: ignore[no-untyped-def]
            served.set()
            return await handler(request)

        a.middlewares.append(first)
        return a

    with serve(app) as url:
        proc = subprocess.Popen([sys.executable, "-m", "loadgen", "run", f, "-q"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**ENV, "BASE_URL": url})
        assert served.wait(30), "the run sent no request in 30 s"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 105, err
    assert "http_reqs" in out  # the summary is still printed


def test_setup_can_use_http_and_return_non_json_data(tmp_path):
    f = scenario(tmp_path, """
        from loadgen import Scenario, PerVUIterations

        class S(Scenario):
            executor = PerVUIterations(vus=1, iterations=1)
            thresholds = {"messages_lost": ["count==0"], "ws_unexpected_disconnects": ["count==0"]}

            async def setup(self):
                r = await self.vu.http.get("/")
                return {"status": r.status, "ids": {1, 2}}

            async def iteration(self, vu):
                assert self.data["status"] == 200
    """)
    out = tmp_path / "sum.json"
    with serve() as url:
        p = loadgen("run", f, "-q", f"--summary-json={out}", env={"BASE_URL": url})
    assert p.returncode == 0, p.stderr
    import json

    data = json.loads(out.read_text())
    assert data["setup_data"] == {"status": 200, "ids": [1, 2]}
    # the setup request is counted, in group ::setup without a scenario tag (as k6)
    assert data["metrics"]["http_reqs"]["values"]["count"] == 1


def test_ndjson_raw_and_bucket_streams(tmp_path):
    f = scenario(tmp_path, """
        from loadgen import Scenario, ConstantArrivalRate

        class S(Scenario):
            executor = ConstantArrivalRate(rate=20, duration="2s", pre_allocated_vus=2)

            async def iteration(self, vu):
                await vu.http.get("/")
    """)
    raw, agg = tmp_path / "raw.ndjson", tmp_path / "agg.ndjson"
    with serve() as url:
        p = loadgen("run", f, "-q", f"--out=json={raw}", f"--out=json={agg}?points=buckets",
                    env={"BASE_URL": url})
    assert p.returncode == 0, p.stderr
    import json

    lines = [json.loads(x) for x in raw.read_text().splitlines()]
    reqs = [x for x in lines if x["type"] == "Point" and x["metric"] == "http_reqs"]
    assert len(reqs) == 40
    meta = next(x for x in lines if x["type"] == "Metric" and x["metric"] == "iteration_lag")
    assert meta["data"]["submetrics"] is None  # loadgen's internal views are not k6's
    buckets = [json.loads(x) for x in agg.read_text().splitlines()]
    counts = [x["data"]["value"] for x in buckets if x["type"] == "Point"
              and x["metric"] == "http_reqs" and x["data"]["tags"]["stat"] == "count"]
    assert sum(counts) == 40 and len(counts) >= 2
    p95 = [x for x in buckets if x["type"] == "Point" and x["metric"] == "http_req_duration"
           and x["data"]["tags"]["stat"] == "p95"]
    assert p95 and all(x["data"]["tags"]["scenario"] == "s" for x in p95)


def test_abort_on_fail_stops_the_run_at_the_first_evaluation_and_exits_99(tmp_path):
    f = scenario(tmp_path, """
        from loadgen import Scenario, ConstantVUs

        class S(Scenario):
            executor = ConstantVUs(vus=2, duration="30s")
            thresholds = {"http_req_failed": [{"threshold": "rate<0.5", "abortOnFail": True}]}

            async def iteration(self, vu):
                await vu.http.get("/status/500")
                await vu.sleep(0.05)
    """)
    out = tmp_path / "export.json"
    t0 = time.monotonic()
    with serve() as url:
        p = loadgen("run", f, "-q", f"--summary-export={out}", env={"BASE_URL": url})
    took = time.monotonic() - t0
    assert p.returncode == 99, p.stderr
    assert took < 15  # k6 aborts at its first 2 s evaluation, not after 30 s
    assert "abortOnFail enabled, stopping test prematurely" in p.stderr
    import json

    assert json.loads(out.read_text())["metrics"]["http_req_failed"]["thresholds"] == {
        "rate<0.5": True}


def test_check_judges_a_real_k6_export(tmp_path):
    export = Path(__file__).parent / "golden" / "basic_summary_export.json"
    passing = tmp_path / "ok.yaml"
    passing.write_text('http_req_duration: ["p(95)<500"]\nchecks: ["rate>0.5"]\n')
    failing = tmp_path / "bad.yaml"
    failing.write_text('http_req_failed: ["rate<0.01"]\n')
    missing = tmp_path / "missing.yaml"
    missing.write_text('http_req_duration: ["p(99)<500"]\n')  # the export has no p(99)
    assert loadgen("check", str(export), "--thresholds", str(passing)).returncode == 0
    p = loadgen("check", str(export), "--thresholds", str(failing))
    assert p.returncode == 99 and "rate<0.01" in p.stdout
    assert loadgen("check", str(export), "--thresholds", str(missing)).returncode == 104


def test_http_one_liner_runs_the_open_model_against_one_endpoint(tmp_path):
    out = tmp_path / "export.json"
    with serve() as url:
        p = loadgen("http", "GET", f"{url}/status/404", "--rps", "20", "-d", "1s",
                    "--expect", "404", "-q", f"--summary-export={out}")
    assert p.returncode == 0, p.stderr
    import json

    m = json.loads(out.read_text())["metrics"]
    assert m["http_reqs"]["count"] == 20
    assert (m["checks"]["passes"], m["checks"]["fails"]) == (20, 0)
    assert "p(95)" in m["iteration_lag"]  # the open model recorded its schedule lag


def test_trend_stats_and_run_tags_reach_the_outputs(tmp_path):
    f = scenario(tmp_path, SIMPLE)
    export, raw = tmp_path / "export.json", tmp_path / "raw.ndjson"
    with serve() as url:
        p = loadgen("run", f, "-q", "--summary-trend-stats", "avg,p(99),count",
                    "--tag", "env=ci", f"--summary-export={export}", f"--out=json={raw}",
                    env={"BASE_URL": url})
    assert p.returncode == 0, p.stderr
    import json

    assert set(json.loads(export.read_text())["metrics"]["http_req_duration"]) == {
        "avg", "p(99)", "count"}
    points = [json.loads(x) for x in raw.read_text().splitlines()]
    assert all(x["data"]["tags"].get("env") == "ci" for x in points if x["type"] == "Point")
    assert "count" in p.stdout and "p(99)=" in p.stdout
