"""`--out prometheus=127.0.0.1:0` in a real run (the CLI in a child process): scraped mid-run
with aiohttp, the numbers are what the run did (the server's own hit counts, the checks, the
threshold the run is failing), one process or a `--workers 2` fleet; the endpoint goes
away with the run."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from servers import make_app, serve

SCENARIO = """
from loadgen import ConstantVUs, Scenario, SharedIterations

class Burst(Scenario):
    executor = SharedIterations(vus=2, iterations=20, max_duration="10s")
    thresholds = {"http_req_failed": ["rate<0.01"], "http_req_duration": ["p(95)<5000"]}

    async def iteration(self, vu):
        r = await vu.http.get("/status/200", name="ok")
        vu.check(r, {"is 200": lambda r: r.status == 200})
        r = await vu.http.get("/status/503", name="bad")
        vu.check(r, {"is 200": lambda r: r.status == 200})

class Idle(Scenario):
    executor = ConstantVUs(vus=1, duration="{idle}")

    async def iteration(self, vu):
        await vu.sleep(0.2)
"""
URL_RE = re.compile(r"serving the run's metrics at ("
                    + re.escape("http://127.0.0.1:") + r"\d+/metrics)")


@pytest.fixture
def counted() -> Iterator[tuple[str, dict[str, int]]]:
    """The shared loopback app, counting the requests it answers per path."""
    hits: dict[str, int] = {}

    @web.middleware
    async def count(request: web.Request, handler):  # type: ignore[no-untyped-def]
        hits[request.path] = hits.get(request.path, 0) + 1
        return await handler(request)

    def app() -> web.Application:
        a = make_app()
        a.middlewares.append(count)
        return a

    with serve(app) as url:
        yield url, hits


def start(tmp_path: Path, url: str, idle: str, *more: str) -> tuple[subprocess.Popen[str],
                                                                    queue.Queue[str]]:
    script = tmp_path / "s.py"
    script.write_text(SCENARIO.replace("{idle}", idle))
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadgen", "run", str(script), "-o", "prometheus=127.0.0.1:0",
         "--no-color", *more], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "BASE_URL": url})
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        with proc.stderr:
            for line in proc.stderr:
                lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def metrics_url(lines: queue.Queue[str], seen: list[str], deadline_s: float) -> str:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        seen.append(line)
        m = URL_RE.search(line)
        if m:
            return m.group(1)
    raise AssertionError("no 'serving the run's metrics at' line:\n" + "".join(seen))


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(got: dict[tuple[str, frozenset[tuple[str, str]]], float], metric: str, /,
          **labels: str) -> float | None:
    return got.get((metric, frozenset(labels.items())))


async def scrape_until_settled(url: str, proc: subprocess.Popen[str], deadline_s: float
                               ) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Scrape every 100 ms until the burst is counted and the failing threshold judged."""
    end = time.monotonic() + deadline_s
    got: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < end:
            assert proc.poll() is None, "the run ended before the scrape saw its numbers"
            async with session.get(url) as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/plain")
                got = parse(await r.text())
            ok = value(got, "loadgen_http_reqs_total", scenario="burst", name="ok",
                       method="GET", status="200")
            judged = value(got, "loadgen_threshold_passing", metric="http_req_failed",
                           threshold="rate<0.01")
            if ok == 20 and judged == 0.0:
                return got
            await asyncio.sleep(0.1)
    raise AssertionError(f"never settled: {sorted(got)[:40]}")


def check_numbers(got: dict[tuple[str, frozenset[tuple[str, str]]], float],
                  hits: dict[str, int]) -> None:
    http = {"scenario": "burst", "method": "GET"}
    assert hits == {"/status/200": 20, "/status/503": 20}
    assert value(got, "loadgen_http_reqs_total", name="ok", status="200", **http) == 20
    assert value(got, "loadgen_http_reqs_total", name="bad", status="503", **http) == 20
    assert value(got, "loadgen_http_req_failed_total", name="bad", status="503", **http) == 20
    assert value(got, "loadgen_http_req_failed_total", name="ok", status="200", **http) == 0
    assert value(got, "loadgen_http_req_duration_seconds_count", name="ok", status="200",
                 **http) == 20
    assert value(got, "loadgen_http_req_duration_seconds_bucket", name="ok", status="200",
                 le="+Inf", **http) == 20
    assert value(got, "loadgen_checks_total", scenario="burst", check="is 200",
                 result="pass") == 20
    assert value(got, "loadgen_checks_total", scenario="burst", check="is 200",
                 result="fail") == 20
    assert value(got, "loadgen_iterations_total", scenario="burst") == 20
    assert value(got, "loadgen_threshold_passing", metric="http_req_duration",
                 threshold="p(95)<5000") == 1.0
    assert (value(got, "loadgen_vus") or 0) >= 1  # the idle scenario's VU, still running
    assert value(got, "loadgen_cpu") is not None


def finish(proc: subprocess.Popen[str], url: str) -> int:
    code = proc.wait(timeout=30)
    with pytest.raises(aiohttp.ClientConnectionError):  # the endpoint stopped with the run
        asyncio.run(_get(url))
    return code


async def _get(url: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        await r.read()


def test_a_scrape_mid_run_sees_what_the_run_did(tmp_path: Path,
                                                counted: tuple[str, dict[str, int]]) -> None:
    url, hits = counted
    proc, lines = start(tmp_path, url, "4s")
    seen: list[str] = []
    try:
        metrics = metrics_url(lines, seen, 15)
        got = asyncio.run(scrape_until_settled(metrics, proc, 6))
        check_numbers(got, hits)
    finally:
        code = finish(proc, metrics if "metrics" in locals() else "http://127.0.0.1:9/")
    assert code == 99  # the http_req_failed threshold the scrape saw failing


def test_a_workers_coordinator_serves_the_merged_numbers(
        tmp_path: Path, counted: tuple[str, dict[str, int]]) -> None:
    url, hits = counted
    proc, lines = start(tmp_path, url, "6s", "--workers", "2")
    seen: list[str] = []
    try:
        metrics = metrics_url(lines, seen, 15)
        got = asyncio.run(scrape_until_settled(metrics, proc, 14))
        check_numbers(got, hits)
    finally:
        code = finish(proc, metrics if "metrics" in locals() else "http://127.0.0.1:9/")
    assert code == 99
