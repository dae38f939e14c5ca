"""Test types end to end against loopback servers with injected faults: a stall after a
spike gives the matching recovery time; a capacity-capped server gives its breakpoint."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aiohttp import web
from servers import Stall, make_app, serve

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def run(tmp_path: Path, body: str, url: str, *args: str):
    f = tmp_path / "kind.py"
    f.write_text(textwrap.dedent(body))
    out = tmp_path / "summary.json"
    p = subprocess.run([sys.executable, "-m", "loadgen", "run", "-q", str(f),
                        f"--summary-json={out}", *args], capture_output=True, text=True,
                       timeout=180, env={**ENV, "BASE_URL": url})
    return p, json.loads(out.read_text()) if out.exists() else {}


SPIKE = """
    from loadgen.testtypes import Spike

    class Surge(Spike):
        base_rate, spike_rate = 20, 60
        warm, ramp_up, hold, ramp_down, recover = "3s", "1s", "2s", "1s", "8s"

        async def iteration(self, vu):
            await vu.http.get("/")
"""


@pytest.mark.slow
def test_spike_recovery_time_matches_an_injected_stall(tmp_path, capsys):
    stall_at, stall_len = 7.0, 3.0  # from the spike's end (warm+up+hold+down = 7 s)
    with serve(lambda: make_app(Stall(stall_at, stall_len))) as url:
        p, summary = run(tmp_path, SPIKE, url)
    v = summary["loadgen"]["verdicts"]["surge"]
    assert v["kind"] == "spike"
    rec = v["figures"]["recovery_s"]
    with capsys.disabled():
        print(f"\n[spike] injected stall {stall_len} s after the spike; recovery {rec} s; "
              f"{v['headline']}")
    assert rec is not None and abs(rec - stall_len) <= 1.0 + 0.2, v
    assert v["figures"]["answers_after"] is True
    assert "recovered" in p.stdout and "█ VERDICTS" in p.stdout


@pytest.mark.slow
def test_spike_without_a_fault_recovers_at_once(tmp_path):
    with serve() as url:
        p, summary = run(tmp_path, SPIKE, url)
    assert p.returncode == 0, p.stdout + p.stderr
    v = summary["loadgen"]["verdicts"]["surge"]
    # at once: within two 1 s intervals (a busy machine can add one slow second of its own)
    assert v["ok"] and v["figures"]["recovery_s"] <= 2.0


def capped_app(slots: int, service_s: float) -> web.Application:
    """At most `slots` requests in service at once, each taking `service_s`:
    capacity = slots / service_s requests per second."""
    sem = asyncio.Semaphore(slots)

    async def root(request: web.Request) -> web.Response:
        async with sem:
            await asyncio.sleep(service_s)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", root)
    return app


@pytest.mark.slow
def test_stress_finds_the_breakpoint_of_a_capacity_capped_server(tmp_path, capsys):
    capacity = 4 / 0.02  # 200 req/s
    with serve(lambda: capped_app(4, 0.02)) as url:
        p, summary = run(tmp_path, """
            from loadgen.testtypes import Stress

            class Ramp(Stress):
                start_rate, step_rate, max_rate, step_duration = 100, 25, 400, "2s"
                p95_ms = 100
                max_error_rate = 0.01

                async def iteration(self, vu):
                    await vu.http.get("/")
        """, url)
    v = summary["loadgen"]["verdicts"]["ramp"]
    best = v["figures"]["max_sustainable_rate"]
    with capsys.disabled():
        print(f"\n[stress] capacity {capacity:g}/s; {v['headline']}; stopped after "
              f"{summary['state']['testRunDurationMs'] / 1000:.1f} s")
    assert best is not None and abs(best - capacity) <= 0.15 * capacity, v
    assert v["figures"]["broken_at"] > best
    # it stopped early: far less than the 13 steps x 2 s the full ramp would take
    assert summary["state"]["testRunDurationMs"] < 20_000
    assert "max sustainable rate" in p.stdout


@pytest.mark.slow
def test_baseline_and_soak_verdicts_on_a_healthy_target(tmp_path):
    with serve() as url:
        p, summary = run(tmp_path, """
            from loadgen.testtypes import Baseline, Soak

            class Steady(Baseline):
                rate, duration, warmup, p95_ms = 30, "4s", "1s", 200

                async def iteration(self, vu):
                    await vu.http.get("/")

            class Long(Soak):
                rate, duration, warmup = 30, "6s", "1s"

                async def iteration(self, vu):
                    await vu.http.get("/")
        """, url)
    assert p.returncode == 0, p.stdout + p.stderr
    verdicts = summary["loadgen"]["verdicts"]
    assert verdicts["steady"]["ok"] and "SLOs held" in verdicts["steady"]["headline"]
    assert verdicts["steady"]["figures"]["steady_throughput_per_s"] == pytest.approx(30, rel=0.2)
    # 6 s cannot show drift (windows of 2 intervals never reach p < 0.01): "?", not a pass
    assert verdicts["long"]["ok"] is None
    assert verdicts["long"]["headline"].startswith("too short to judge drift")
    # the baseline's default thresholds are real k6 thresholds in the summary
    assert summary["metrics"]["http_req_duration"]["thresholds"] == {"p(95)<200": {"ok": True}}
