"""Watching the generator (saturation) and the target (process, Prometheus scrape)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from servers import free_port, serve, wait_listening

from loadgen.metrics.model import tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.watch.generator import GeneratorWatch
from loadgen.watch.target import ScrapeWatch

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def test_saturation_needs_three_hot_seconds_and_merges_intervals():
    w = GeneratorWatch(Registry(), Recorder(), tagset())
    cpu = [0.2, 0.95, 0.95, 0.2, 0.95, 0.95, 0.95, 0.97, 0.3, 0.1]
    flags = [w.observe(1000.0 + i, c, 1.0, i) for i, c in enumerate(cpu)]
    assert flags == [False, False, False, False, False, False, True, True, False, False]
    assert w.saturation.intervals == [(1003.0, 1007.0)]
    assert w.saturation.seconds == 2
    lag_only = GeneratorWatch(Registry(), Recorder(), tagset())
    assert [lag_only.observe(float(i), 0.1, 50.0, i) for i in range(3)] == [False, False, True]


def test_scrape_turns_every_series_into_a_gauge_with_labels_as_tags():
    reg, rec = Registry(), Recorder()
    sw = ScrapeWatch("http://127.0.0.1:1/metrics", reg, rec, {"env": "ci"})
    text = textwrap.dedent("""\
        # TYPE messaging_consumer_lag_seconds gauge
        messaging_consumer_lag_seconds 0.25
        # TYPE http_requests counter
        http_requests_total{route="/v1/messages",status="202"} 42
        """)
    assert sw.ingest_text(text, 5) == 2
    got = {(r[2].name, r[3], r[4]) for r in rec.records}
    assert ("messaging_consumer_lag_seconds", 0.25, (("env", "ci"),)) in got
    assert ("http_requests_total", 42.0,
            (("env", "ci"), ("route", "/v1/messages"), ("status", "202"))) in got


def run_cli(tmp_path: Path, body: str, *args: str, env: dict[str, str] | None = None,
            ) -> tuple[subprocess.CompletedProcess[str], dict]:
    f = tmp_path / "s.py"
    f.write_text(textwrap.dedent(body))
    out = tmp_path / "summary.json"
    p = subprocess.run([sys.executable, "-m", "loadgen", "run", "-q", str(f),
                        f"--summary-json={out}", *args], capture_output=True, text=True,
                       timeout=120, env={**ENV, **(env or {})})
    return p, (json.loads(out.read_text()) if out.exists() else {})


@pytest.mark.slow
def test_a_starved_generator_is_flagged_and_can_fail_a_threshold(tmp_path):
    p, summary = run_cli(tmp_path, """
        import time
        from loadgen import ConstantVUs, Scenario

        class Busy(Scenario):
            executor = ConstantVUs(vus=1, duration="6s")
            thresholds = {"loadgen_saturated": ["rate==0"]}

            async def iteration(self, vu):
                end = time.perf_counter() + 0.05
                while time.perf_counter() < end:  # burns the generator's CPU on purpose
                    pass
                await vu.sleep(0)
    """)
    assert p.returncode == 99, p.stderr
    gen = summary["loadgen"]["generator"]
    assert gen["saturated"] is True and gen["saturated_seconds"] >= 1
    assert "results unreliable: generator saturated at" in p.stdout
    assert "loadgen_saturated" in p.stderr


@pytest.mark.slow
def test_a_calm_generator_is_not_flagged(tmp_path):
    with serve() as url:
        p, summary = run_cli(tmp_path, """
            from loadgen import ConstantArrivalRate, Scenario

            class Calm(Scenario):
                executor = ConstantArrivalRate(rate=20, duration="4s", pre_allocated_vus=5)
                thresholds = {"loadgen_saturated": ["rate==0"]}

                async def iteration(self, vu):
                    await vu.http.get("/")
        """, env={"BASE_URL": url})
    assert p.returncode == 0, p.stderr
    assert summary["loadgen"]["generator"]["saturated"] is False
    assert summary["loadgen"]["warnings"] == []


LEAKY = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
LEAK = []
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        if sys.argv[2] == "leak":
            LEAK.append(bytearray(1024 * 1024))  # 1 MiB per request, never freed
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""

SOAK = """
    from loadgen import ConstantArrivalRate, Scenario

    class Soak(Scenario):
        executor = ConstantArrivalRate(rate=20, duration="4s", pre_allocated_vus=4)
        thresholds = {"target_rss_growth": ["value<0.10"]}

        async def iteration(self, vu):
            await vu.http.get("/")
"""


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "code"), [("leak", 99), ("clean", 0)])
def test_monitor_pid_catches_a_leaking_target(tmp_path, mode, code):
    port = free_port()
    srv = tmp_path / "srv.py"
    srv.write_text(LEAKY)
    target = subprocess.Popen([sys.executable, str(srv), str(port), mode])
    try:
        wait_listening(port)
        p, summary = run_cli(tmp_path, SOAK, "--monitor-pid", str(target.pid),
                             env={"BASE_URL": f"http://127.0.0.1:{port}"})
    finally:
        target.terminate()
        target.wait(10)
    assert p.returncode == code, p.stdout + p.stderr
    growth = summary["metrics"]["target_rss_growth"]["values"]["value"]
    assert (growth > 0.10) == (mode == "leak"), growth
    assert summary["metrics"]["target_rss"]["values"]["max"] > 1e6


@pytest.mark.slow
def test_scrape_of_the_demo_service_and_of_a_dead_target(tmp_path):
    from loadgen.demo import start_server  # noqa: F401 - the demo app is the target

    port = free_port()
    demo = subprocess.Popen([sys.executable, "-m", "loadgen.demo", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        p, summary = run_cli(tmp_path, """
            from loadgen import ConstantVUs, Scenario

            class Health(Scenario):
                executor = ConstantVUs(vus=1, duration="3s")
                thresholds = {"messaging_outbox_dead_total": ["value==0"]}

                async def iteration(self, vu):
                    await vu.http.get("/healthz")
                    await vu.sleep(0.1)
        """, "--scrape", f"http://127.0.0.1:{port}/metrics",
            "--scrape", f"http://127.0.0.1:{free_port()}/metrics",
            env={"BASE_URL": f"http://127.0.0.1:{port}"})
    finally:
        demo.terminate()
        demo.wait(10)
    assert p.returncode == 0, p.stdout + p.stderr
    m = summary["metrics"]
    assert "ws_connections" in m and "messaging_consumer_delivered_total" in m
    scrapes = summary["loadgen"]["scrape"]
    assert scrapes[0]["failures"] == 0 and scrapes[0]["scrapes"] >= 2
    assert scrapes[1]["failures"] >= 2  # the dead one is reported, not fatal
    assert m["target_scrape_errors"]["values"]["count"] >= 2


def test_scraped_histograms_become_the_mean_since_the_last_scrape():
    reg, rec = Registry(), Recorder()
    sw = ScrapeWatch("http://127.0.0.1:1/metrics", reg, rec, {})

    def expo(total: float, count: int) -> str:
        return textwrap.dedent(f"""\
            # TYPE messaging_consumer_lag_seconds histogram
            messaging_consumer_lag_seconds_bucket{{le="1.0"}} {count}
            messaging_consumer_lag_seconds_bucket{{le="+Inf"}} {count}
            messaging_consumer_lag_seconds_sum {total}
            messaging_consumer_lag_seconds_count {count}
            """)

    sw.ingest_text(expo(2.0, 10), 1)  # 10 observations averaging 0.2 s since start
    sw.ingest_text(expo(2.0 + 30.0, 20), 2)  # 10 more, averaging 3.0 s
    lag = [r[3] for r in rec.records if r[2].name == "messaging_consumer_lag_seconds"]
    assert lag == [0.2, 3.0]
    names = {r[2].name for r in rec.records}
    assert "messaging_consumer_lag_seconds_bucket" not in names
    assert {"messaging_consumer_lag_seconds_sum", "messaging_consumer_lag_seconds_count"} <= names


@pytest.mark.slow
def test_a_threshold_on_a_scraped_name_that_never_arrives_fails(tmp_path):
    with serve() as url:
        p, summary = run_cli(tmp_path, """
            from loadgen import ConstantVUs, Scenario

            class S(Scenario):
                executor = ConstantVUs(vus=1, duration="2s")
                thresholds = {"messaging_typo_total": ["value==0"]}

                async def iteration(self, vu):
                    await vu.http.get("/")
                    await vu.sleep(0.2)
        """, "--scrape", f"http://127.0.0.1:{free_port()}/metrics", env={"BASE_URL": url})
    assert p.returncode == 99, p.stdout + p.stderr
    assert any("messaging_typo_total: no scraped series" in w
               for w in summary["loadgen"]["warnings"])
