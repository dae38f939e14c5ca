"""Hostile scrape endpoints and signals, through the real CLI in a child process.

Whatever a --scrape endpoint does (never answer, trickle, an endless body, a decompression
bomb), the run ends on time with a bounded memory and a warning naming the problem. Ctrl-C
during a stalled setup() or teardown() ends the run promptly with its files written (105).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest
from hostile_run import run_cli
from scrape_servers import HostileServer, hostile_server

DURATION_S = 1.0
GRACE_S = 6.0  # interpreter start-up, one scrape deadline, report and exit
RSS_MB = 250

LOAD = """
from loadgen import ConstantVUs, Scenario

class Light(Scenario):
    executor = ConstantVUs(vus=1, duration="1s")

    async def iteration(self, vu):
        await vu.http.get("/")
        await vu.sleep(0.1)
"""


@pytest.mark.parametrize(("path", "needle"), [
    ("/silent", "timed out"),
    ("/trickle", "timed out"),
    ("/endless", "cut at 16 MiB"),
    ("/bomb", "cut at 16 MiB"),
])
def test_a_hostile_scrape_endpoint_cannot_hold_the_run(tmp_path: Path, path: str,
                                                       needle: str) -> None:
    script = tmp_path / "light.py"
    script.write_text(LOAD)
    out = tmp_path / "summary.json"
    with hostile_server() as srv:
        r = run_cli("run", "-q", str(script), "--scrape", srv.base + path,
                    f"--summary-json={out}", env={"BASE_URL": srv.base},
                    timeout=DURATION_S + 30)
        assert srv.hits[path] >= 1
    r.assert_clean()
    assert r.code == 0, r.text[-3000:]
    assert f"scrape of {srv.base}{path}" in r.err and needle in r.err, r.err[-3000:]
    assert r.wall_s < DURATION_S + GRACE_S, r.wall_s
    assert r.peak_rss_mb < RSS_MB, r.peak_rss_mb
    scrape = json.loads(out.read_text())["loadgen"]["scrape"][0]
    assert scrape["failures"] >= 1 and scrape["scrapes"] == 0


STALLED = """
import asyncio
from loadgen import ConstantVUs, Scenario

class Stalled(Scenario):
    executor = ConstantVUs(vus=1, duration="1s")

    async def setup(self):
        {setup}

    async def iteration(self, vu):
        await vu.http.get("/")
        await vu.sleep(0.1)

    async def teardown(self, data):
        {teardown}
"""
STALL = 'await self.vu.http.get("/silent")'
# a setup() that swallows the cancellation and stalls again: only a second Ctrl-C ends it
STUBBORN = """while True:
            try:
                await self.vu.http.get("/silent")
            except asyncio.CancelledError:
                pass"""


def interrupt_when_stalled(srv: HostileServer, signals: int, sent: list[float]) -> None:
    """Once the target holds the /silent request, SIGINT the loadgen child `signals` times
    (0.5 s apart), recording when the first one went."""
    if not srv.hit_event("/silent").wait(30):
        return
    child = next(p for p in psutil.Process().children()
                 if "loadgen" in " ".join(p.cmdline()))
    for i in range(signals):
        if i == 0:
            sent.append(time.monotonic())
        child.send_signal(signal.SIGINT)
        time.sleep(0.5)


# (where, SIGINTs sent, seconds from the first SIGINT to the exit): a stubborn setup() is
# abandoned after the engine's 2 s grace and the loop's 2 s one, or at the second SIGINT
@pytest.mark.parametrize(("where", "signals", "limit"), [
    ("setup", 1, 4.0), ("teardown", 1, 4.0), ("stubborn setup", 1, 7.0),
    ("stubborn setup", 2, 1.5)])
def test_ctrl_c_ends_a_stalled_setup_or_teardown_promptly(tmp_path: Path, where: str,
                                                          signals: int, limit: float) -> None:
    body = {"setup": STALL, "teardown": STALL, "stubborn setup": STUBBORN}[where]
    script = tmp_path / "stalled.py"
    script.write_text(STALLED.format(
        setup=body if "setup" in where else "return None",
        teardown=body if where == "teardown" else "pass"))
    summary, ndjson = tmp_path / "summary.json", tmp_path / "out.ndjson"
    sent: list[float] = []
    with hostile_server() as srv:
        th = threading.Thread(target=interrupt_when_stalled, args=(srv, signals, sent))
        th.start()
        t0 = time.monotonic()
        r = run_cli("run", "-q", str(script), f"--summary-json={summary}",
                    "--out", f"json={ndjson}", env={"BASE_URL": srv.base}, timeout=40)
        th.join(10)
    r.assert_clean()
    assert r.code == 105, r.text[-3000:]
    assert sent, "the stall was never reached"
    took = t0 + r.wall_s - sent[0]
    print(f"{where}, {signals} SIGINT: exit {took:.2f} s after the first")
    assert took < limit, took
    assert r.peak_rss_mb < RSS_MB
    lines = ndjson.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # whatever was written is whole
    if signals == 2:
        assert "quitting at once" in r.err, r.err[-2000:]
        return
    assert f"{where.split()[-1]}() interrupted" in r.err, r.err[-2000:]
    data = json.loads(summary.read_text())
    assert data["loadgen"]["outcome"]["exit_code"] == 105
    iterations = data["metrics"].get("iterations", {}).get("values", {}).get("count", 0)
    assert (iterations > 0) == (where == "teardown")  # no load after an interrupted setup


@pytest.mark.parametrize("url", ["notaurl", "ftp://127.0.0.1/metrics", "http://",
                                 "http://127.0.0.1:99999/metrics"])
def test_a_scrape_url_that_cannot_be_scraped_is_a_configuration_error(tmp_path: Path,
                                                                      url: str) -> None:
    script = tmp_path / "light.py"
    script.write_text(LOAD)
    r = run_cli("run", "-q", str(script), "--scrape", url, timeout=30)
    r.assert_clean()
    assert r.code == 104, r.text[-2000:]
    assert f"--scrape {url}: not" in r.err, r.err
    assert r.wall_s < 10 and r.peak_rss_mb < RSS_MB
