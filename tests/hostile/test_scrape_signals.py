"""Hostile scrape endpoints and signals, through the real CLI in a child process.

Whatever a --scrape endpoint does (never answer, trickle, an endless body, a decompression
bomb), the run ends on time with a bounded memory and a warning naming the problem. Ctrl-C
during a stalled setup() or teardown() ends the run promptly with its files written (105).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_run import run_cli
from scrape_servers import hostile_server

DURATION_S = 2.0
GRACE_S = 6.0  # interpreter start-up, one scrape deadline, report and exit
RSS_MB = 250

LOAD = """
from loadgen import ConstantVUs, Scenario

class Light(Scenario):
    executor = ConstantVUs(vus=1, duration="2s")

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
