"""A dead or slow target must never pass a latency gate: the real CLI against loopback
targets that do not answer, each case checking the exit code, the message, no traceback,
a bounded RSS and an end within duration + graceful stop + a margin."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hostile_run import run_cli
from truth_servers import pausing_server, silent_server

MAX_RSS_MB = 250
MARGIN_S = 6.0  # interpreter start, imports, teardown on a shared 2-core machine

DEAD = """
from loadgen import ConstantVUs, Scenario

class Dead(Scenario):
    executor = ConstantVUs(vus=2, duration="1s", graceful_stop="1s")
    thresholds = {"http_req_duration": ["p(95)<500"]}

    async def iteration(self, vu):
        await vu.http.get("/")
"""


def test_a_target_that_never_answers_fails_a_latency_gate(tmp_path: Path) -> None:
    script = tmp_path / "dead.py"
    script.write_text(DEAD)
    with silent_server() as url:
        r = run_cli("run", str(script), "-q", env={"BASE_URL": url})
    r.assert_clean()
    assert r.code == 99, r.text[-3000:]
    assert "✗ 'p(95)<500'" in r.out
    assert "2 HTTP requests got no response before the VU was stopped" in r.out
    assert re.search(r"http_req_failed\.+: 100\.00% +2 out of 2", r.out)
    assert r.peak_rss_mb < MAX_RSS_MB
    assert r.wall_s < 1 + 1 + MARGIN_S


def test_dropped_arrivals_are_unserved_not_a_small_latency(tmp_path: Path) -> None:
    """--rps 100 --max-vus 20 against a 1.5 s stall: ~130 arrivals find no VU. Their users
    were never served, so iteration_latency p95 is 'unserved' (a `<` threshold fails), not
    the few milliseconds of the iterations that ran; the JSON export stays valid (null)."""
    thr = tmp_path / "lat.yaml"
    thr.write_text('iteration_latency: ["p(95)<1000"]\n')
    export = tmp_path / "export.json"
    with pausing_server(0.3, 1.5) as url:
        r = run_cli("http", "GET", url + "/", "--rps", "100", "--max-vus", "20", "-d", "3s",
                    "-q", "--thresholds", str(thr), "--summary-export", str(export))
    r.assert_clean()
    assert r.code == 99, r.text[-3000:]
    assert "✗ 'p(95)<1000' p(95)=unserved" in r.out
    assert re.search(r"iteration_latency\.+: .*p\(95\)=unserved", r.out)
    data = json.loads(export.read_text())
    lat = data["metrics"]["iteration_latency"]
    assert lat["p(95)"] is None and lat["thresholds"] == {"p(95)<1000": True}
    om = data["loadgen"]["open_model"]["http"]
    assert om["iteration_latency"]["unserved"] == om["dropped_iterations"] > 50
    # who was slow: the target (VUs all waiting), not the generator (starts on time)
    assert "scenario http: the target was slow, not the generator" in r.out
    assert "did not keep the arrival schedule" not in r.out
    assert r.peak_rss_mb < MAX_RSS_MB
    assert r.wall_s < 3 + 1.5 + MARGIN_S


def test_a_threshold_on_no_samples_says_so_in_the_summary_and_the_log(tmp_path: Path) -> None:
    """A selector that matches nothing (a typo, a status the target never returns) is a
    threshold judged on zero samples: it fails, and both the summary line and the log say
    why, instead of k6's `p(95)=0s`, which reads as a fast target."""
    thr = tmp_path / "typo.yaml"
    thr.write_text('http_req_duration{status:201}: ["p(95)<500"]\n')
    with pausing_server(100, 1) as url:  # answers 200 at once for the whole run
        r = run_cli("http", "GET", url + "/", "--rps", "50", "-d", "1s", "-q",
                    "--thresholds", str(thr))
    r.assert_clean()
    assert r.code == 99, r.text[-3000:]
    assert "✗ 'p(95)<500' (no samples: nothing to judge, counted as failed)" in r.out
    assert "p(95)=0s" not in r.out.split("TOTAL RESULTS")[0]
    assert "level=WARNING msg=threshold on http_req_duration{status:201}: no samples at all" \
        in r.err
    assert r.peak_rss_mb < MAX_RSS_MB
    assert r.wall_s < 1 + MARGIN_S  # nothing in flight: graceful stop unused


RECURRING_STALL = """
import time
from loadgen import ConstantVUs, Scenario

class Stalls(Scenario):
    executor = ConstantVUs(vus=1, duration="5s", graceful_stop="1s")
    thresholds = {"loadgen_saturated": ["rate==0"]}

    async def iteration(self, vu):
        time.sleep(%s)  # blocking work on the event loop, on purpose
        await vu.sleep(%s)
"""


def test_blocking_work_that_recurs_each_second_is_flagged(tmp_path: Path) -> None:
    """200 ms of blocking work once a second: CPU stays low and a once-a-second point
    sample of the loop lag slips between the stalls; the lateness of every tick does not."""
    script = tmp_path / "stalls.py"
    script.write_text(RECURRING_STALL % (0.2, 0.8))
    export = tmp_path / "export.json"
    r = run_cli("run", str(script), "-q", "--summary-export", str(export))
    r.assert_clean()
    assert r.code == 99, r.text[-3000:]
    assert "results unreliable: generator saturated at" in r.out
    gen = json.loads(export.read_text())["loadgen"]["generator"]
    assert gen["saturated"] is True and gen["saturated_seconds"] >= 1
    assert r.peak_rss_mb < MAX_RSS_MB
    assert r.wall_s < 5 + 1 + MARGIN_S


def test_a_loop_blocked_for_2_9_s_is_flagged(tmp_path: Path) -> None:
    script = tmp_path / "block.py"
    script.write_text(RECURRING_STALL.replace('duration="5s"', 'duration="3s"') % (2.9, 5))
    export = tmp_path / "export.json"
    r = run_cli("run", str(script), "-q", "--summary-export", str(export))
    r.assert_clean()
    assert r.code == 99, r.text[-3000:]
    assert "results unreliable: generator saturated at" in r.out
    assert json.loads(export.read_text())["loadgen"]["generator"]["saturated"] is True
    assert r.peak_rss_mb < MAX_RSS_MB
    assert r.wall_s < 3 + 1 + MARGIN_S


BUSY_GENERATOR = """
import time
from loadgen import ConstantArrivalRate, Scenario

class Busy(Scenario):
    executor = ConstantArrivalRate(rate=100, duration="3s", pre_allocated_vus=5,
                                   graceful_stop="1s")

    async def iteration(self, vu):
        time.sleep(0.03)  # 30 ms of blocking work at 100/s: 3 s of work per second
"""


def test_a_generator_that_cannot_keep_the_schedule_is_blamed_not_the_target(
        tmp_path: Path) -> None:
    """The other side of 'who was slow': no target at all, the generator's own loop is
    the bottleneck, so starts are late and the warning names the generator."""
    script = tmp_path / "busy.py"
    script.write_text(BUSY_GENERATOR)
    r = run_cli("run", str(script), "-q")
    r.assert_clean()
    assert r.code == 0, r.text[-3000:]  # no thresholds: the warning is the verdict here
    assert "scenario busy: the generator did not keep the arrival schedule" in r.out
    assert "the target was slow" not in r.out
    assert r.peak_rss_mb < MAX_RSS_MB
    assert r.wall_s < 3 + 1 + MARGIN_S
