"""The real CLI with windowed thresholds and start_after: a short run judged per window, a
run shorter than its window (undecided, failed loudly), cycles and bad windows (104)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/servers.py

from hostile_run import run_cli  # noqa: E402
from servers import serve  # noqa: E402

SCRIPT = '''
from loadgen import ConstantArrivalRate, Scenario, SharedIterations

class Warmup(Scenario):
    executor = SharedIterations(vus=1, iterations=5, graceful_stop="1s")

    async def iteration(self, vu):
        await vu.http.get("/")

class Main(Scenario):
    start_after = {after!r}
    executor = ConstantArrivalRate(rate=20, duration="3s", pre_allocated_vus=2,
                                   graceful_stop="1s")
    thresholds = {thresholds!r}

    async def iteration(self, vu):
        await vu.http.get("/")
'''
MAX_RSS_MB = 400


@pytest.fixture(scope="module")
def base_url():
    with serve() as url:
        yield url


def script(tmp_path: Path, thresholds: dict, after: str = "warmup") -> str:
    f = tmp_path / "ordered.py"
    f.write_text(SCRIPT.format(after=after, thresholds=thresholds))
    return str(f)


def test_windows_are_judged_and_a_too_short_run_is_undecided(tmp_path, base_url):
    out = tmp_path / "summary.json"
    f = script(tmp_path, {"http_req_duration": ["p(99) over 1s < 2000"],
                          "http_reqs": ["count over 2s > 1", "count over 1m > 0"]})
    r = run_cli("run", f, "--summary-json", str(out), env={"BASE_URL": base_url})
    r.assert_clean()
    assert r.code == 99, r.text[-3000:]
    assert "after warmup ends (at the latest" in r.err  # the banner's timeline
    assert "never filled one 60 s window, so it is undecided" in r.text
    # the text summary: the window's own value, `?` where no window was full
    assert "✗ 'count over 1m > 0' count over 1m=? (no full window: undecided)" in r.out
    assert "✓ 'p(99) over 1s < 2000' p(99) over 1s=" in r.out
    assert "'p(99) over 1s < 2000' p(99) over 1s=undefined" not in r.out
    th = json.loads(out.read_text())["metrics"]
    assert th["http_req_duration"]["thresholds"] == {"p(99) over 1s < 2000": {"ok": True}}
    assert th["http_reqs"]["thresholds"] == {"count over 2s > 1": {"ok": True},
                                             "count over 1m > 0": {"ok": False}}
    assert th["http_reqs"]["values"]["count"] >= 5 + 55
    # warm-up (about 0.1 s) + 3 s + graceful stops; python start-up; a margin
    assert r.wall_s < 3 + 1 + 1 + 8
    assert r.peak_rss_mb < MAX_RSS_MB


@pytest.mark.parametrize(("after", "thresholds", "message"), [
    ("main", {}, "start_after makes a cycle: main starts after main"),
    ("nosuch", {}, "start_after 'nosuch' names no scenario (scenarios: warmup, main)"),
    ("warmup", {"http_req_duration": ["p(99) over 90ms < 3"]},
     "'90ms' must be whole seconds from 1s to 1h"),
    ("warmup", {"vus": ["value over 10s < 3"]}, "a window (`over ...`) needs a trend"),
])
def test_bad_ordering_and_bad_windows_exit_104(tmp_path, after, thresholds, message):
    r = run_cli("run", script(tmp_path, thresholds, after), env={"BASE_URL": "http://127.0.0.1:9"})
    r.assert_clean()
    assert r.code == 104 and message in r.err, r.text[-2000:]
    assert r.wall_s < 10 and r.peak_rss_mb < MAX_RSS_MB


def test_under_workers_each_worker_starts_the_follower_when_its_warmup_ends(tmp_path,
                                                                             base_url):
    out = tmp_path / "summary.json"
    f = script(tmp_path, {"iterations{scenario:main}": ["count>=50"]})
    r = run_cli("run", f, "--workers", "2", "--summary-json", str(out),
                env={"BASE_URL": base_url})
    r.assert_clean()
    assert r.code == 0, r.text[-3000:]
    assert "after warmup ends (at the latest 10m1s)" in r.err  # the coordinator's banner
    m = json.loads(out.read_text())["metrics"]
    assert m["iterations"]["values"]["count"] == 5 + 60
    # not at the planned worst case (10 min): right after the warm-up, on each worker
    assert r.wall_s < 3 + 1 + 1 + 12
    assert r.peak_rss_mb < MAX_RSS_MB
