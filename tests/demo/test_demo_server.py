"""Starting and stopping the service, the CLI entry point, and the pure helpers."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp

from loadgen.demo import DemoConfig, LatencyProfile, start_server
from loadgen.demo.state import DemoState
from loadgen.demo.store import Message
from loadgen.demo.work import sample_seconds

ROOT = Path(__file__).resolve().parents[2]


async def test_start_server_picks_a_free_port_and_shuts_down_sockets() -> None:
    runner, port = await start_server("127.0.0.1", 0, DemoConfig())
    assert port > 0
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "ok"}
        ws = await session.ws_connect(f"http://127.0.0.1:{port}/v1/ws/echo")
        reader = asyncio.ensure_future(ws.receive())
        start = time.perf_counter()
        await runner.cleanup()
        assert time.perf_counter() - start < 2.0
        msg = await asyncio.wait_for(reader, 2)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert msg.data == 1001
        await ws.close()


def test_python_dash_m_serves_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen.demo", "--port", "0", "--seed", "1", "--latency-ms", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.fullmatch(re.escape("demo server listening on http://127.0.0.1:") + r"(\d+)\n",
                         line)
        assert m, line
        url = f"http://127.0.0.1:{m.group(1)}/healthz"
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert resp.status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_bad_cli_value_is_a_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "loadgen.demo", "--error-rate", "3"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        timeout=20,
    )
    assert proc.returncode == 2
    assert "error_rate" in proc.stderr


def test_lognormal_work_latency_matches_its_profile() -> None:
    profile = LatencyProfile(median_ms=10.0, p95_ms=30.0)
    rng = random.Random(42)
    draws = sorted(sample_seconds(profile, rng) * 1000 for _ in range(20_000))
    median = statistics.median(draws)
    p95 = draws[int(0.95 * len(draws))]
    assert 9.5 < median < 10.5
    assert 28.0 < p95 < 32.0
    assert sample_seconds(LatencyProfile(0.0, 0.0), rng) == 0.0
    assert sample_seconds(LatencyProfile(4.0, 4.0), rng) == 0.004


async def test_outbox_full_counts_dead() -> None:
    st = DemoState.build(DemoConfig(queue_size=1))
    msg = Message("m1", "c1", "alice", "hi", None, 0.0)
    assert st.hub.enqueue(msg, frozenset({"alice", "bob"})) is None
    assert st.hub.enqueue(msg, frozenset({"alice", "bob"})) == "outbox full"
    assert st.hub.dead == 2
    value = st.metrics.registry.get_sample_value(
        "messaging_outbox_dead_total", {"reason": "queue_full"}
    )
    assert value == 2
