"""Bad input from the command line and from files: a clear message naming the problem and
k6's exit code (104 for configuration), never a traceback. Each case runs the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hostile_run import run_cli

SCENARIO = """
from loadgen import Scenario

class S(Scenario):
    async def iteration(self, vu):
        pass
"""


def loadgen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadgen", *args], capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "s.py").write_text(SCENARIO)
    (tmp_path / "bin.yaml").write_bytes(b"\x00\xff\xfe")
    (tmp_path / "bogus.json").write_text(
        '{"metrics": {"m": {"type": "bogus", "values": {"count": 1}}}}')
    (tmp_path / "t.yaml").write_text("m: ['count>0']\n")
    names = {"script": "s.py", "bin": "bin.yaml", "bogus": "bogus.json", "thr": "t.yaml"}
    return {k: str(tmp_path / v) for k, v in names.items()} | {"dir": str(tmp_path)}


CASES = [
    (["run", "{script}", "--rps", "nan", "-d", "1s"], "--rps must be a finite number"),
    (["run", "{script}", "--rps", "inf", "-d", "1s"], "--rps must be a finite number"),
    (["run", "{script}", "--rps", "1e12", "-d", "1s"], "ceiling"),
    (["run", "{script}", "--vus", "10000000", "-d", "1s"], "--vus 1e+07 is more than"),
    (["run", "{script}", "--rps-limit", "-5", "-d", "1s"], "--rps-limit must be more than 0"),
    (["run", "{script}", "--rps", "10", "--max-vus", "0", "-d", "1s"],
     "--max-vus must be at least 1"),
    (["run", "{script}", "-d", "1s", "--thresholds", "{bin}"], "not UTF-8 text"),
    (["run", "{script}", "-d", "1s", "--summary-export", "{dir}/missing/e.json"],
     "does not exist"),
    (["check", "{bin}", "--thresholds", "{thr}"], "not UTF-8 text"),
    (["check", "{bogus}", "--thresholds", "{thr}"], "unknown type 'bogus'"),
    (["http", "GET", "http://127.0.0.1:9/", "--body", "@{dir}/nope", "-d", "1s"],
     "--body @"),
]


@pytest.mark.parametrize(("args", "needle"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_exits_104_with_a_message(files: dict[str, str], args: list[str],
                                            needle: str) -> None:
    p = loadgen(*(a.format(**files) for a in args))
    assert "Traceback" not in p.stderr + p.stdout, p.stderr
    assert p.returncode == 104, p.stderr
    assert needle in p.stderr, p.stderr


def test_vu_ids_are_1_to_n_with_setup_vu_0(tmp_path: Path) -> None:
    """k6: VUs are 1..N whether or not there is a setup(); setup and teardown run as VU 0
    (a setup() used to take id 1, so the first VU was 2)."""
    out = tmp_path / "ids.txt"
    (tmp_path / "ids.py").write_text(f"""
from loadgen import Scenario, PerVUIterations

SEEN = set()

class S(Scenario):
    executor = PerVUIterations(vus=3, iterations=2)

    async def setup(self):
        return {{"setup_vu": self.vu.id}}

    async def iteration(self, vu):
        SEEN.add(vu.id)

    async def teardown(self, data):
        open({str(out)!r}, "w").write(f"{{data['setup_vu']}} {{self.vu.id}} {{sorted(SEEN)}}")
""")
    p = loadgen("run", str(tmp_path / "ids.py"), "-q", "--no-summary")
    assert p.returncode == 0, p.stderr
    assert out.read_text() == "0 0 [1, 2, 3]"


def test_a_k6_style_rps_with_vus_is_warned_about(files: dict[str, str]) -> None:
    p = loadgen("run", files["script"], "--rps", "5", "--vus", "2", "-d", "1s", "-q",
                "--no-summary")
    assert p.returncode == 0, p.stderr
    assert "loadgen's --rps-limit" in p.stderr


# -- scenario files a user got wrong: one clear 104 each, never a silent run or a traceback --

ZEROS = "1" + "0" * 400
SYNC_ITERATION = """
from loadgen import Scenario

class S(Scenario):
    def iteration(self, vu):
        pass
"""
LIST_THRESHOLDS = """
from loadgen import Scenario

class S(Scenario):
    thresholds = ["p(95)<300"]

    async def iteration(self, vu):
        pass
"""
RATE = """
from loadgen import ConstantArrivalRate, Scenario

class S(Scenario):
    executor = ConstantArrivalRate(rate=float("{rate}"), duration="2s", pre_allocated_vus=1)

    async def iteration(self, vu):
        pass
"""
LONG_DURATION = f"""
from loadgen import ConstantVUs, Scenario

class S(Scenario):
    executor = ConstantVUs(vus=1, duration="{ZEROS}s")

    async def iteration(self, vu):
        pass
"""
RAMP_NAN = """
from loadgen import RampingArrivalRate, Scenario

class S(Scenario):
    executor = RampingArrivalRate(start_rate=float("nan"), pre_allocated_vus=1,
                                  stages=[("2s", float("nan"))])

    async def iteration(self, vu):
        pass
"""
EVERYTHING_WRONG = """
from loadgen import ConstantVUs, Scenario

class S(Scenario):
    executor = ConstantVUs(vus=-1, duration="2s")
    thresholds = {"http_req_duration": ["p(95)<<300"], "no_such_metric": ["count>0"]}

    async def iteration(self, vu):
        pass
"""

FILE_CASES = [
    ("sync-iteration", SYNC_ITERATION, [],
     ["iteration must be `async def iteration(self, ...)`"]),
    ("zero-stages", SCENARIO, ["-s", "0s:0"], ["the stages last 0s in total"]),
    ("list-thresholds", LIST_THRESHOLDS, [],
     ["scenario s: thresholds must be a mapping", "got a list"]),
    ("rate-nan", RATE.replace("{rate}", "nan"), [], ["rate must be a finite number, got nan"]),
    ("rate-inf", RATE.replace("{rate}", "inf"), [], ["rate must be a finite number, got inf"]),
    ("ramp-nan", RAMP_NAN, [], ["stage 0: target must be a finite number >= 0, got nan",
                                "start_rate must be a finite number, got nan"]),
    ("cli-400-digit-duration", SCENARIO, ["-d", ZEROS + "s"],
     ["invalid duration", "more than loadgen's ceiling of 8760h"]),
    ("file-400-digit-duration", LONG_DURATION, [],
     ["scenario s has configuration errors: invalid duration", "ceiling of 8760h"]),
    ("all-problems-at-once", EVERYTHING_WRONG, [],
     ["vus must be at least 1, got -1", 'threshold expresion\'s "p(95)<<300"',
      'no metric name "no_such_metric" found']),
]


@pytest.mark.parametrize(("source", "flags", "needles"), [c[1:] for c in FILE_CASES],
                         ids=[c[0] for c in FILE_CASES])
def test_a_bad_scenario_file_exits_104_naming_every_problem(
        tmp_path: Path, source: str, flags: list[str], needles: list[str]) -> None:
    """Before: a plain `def iteration` spun at 6,500 it/s and exited 0, `-s 0s:0` ran nothing,
    a nan rate ran, list thresholds and 400-digit durations raised tracebacks, and an
    executor error hid the threshold errors of the same file."""
    script = tmp_path / "bad.py"
    script.write_text(source)
    r = run_cli("run", str(script), "--no-summary", *flags, timeout=60)
    r.assert_clean()
    assert r.code == 104, r.text[-2000:]
    for needle in needles:
        assert needle in r.err, r.err
    assert r.peak_rss_mb < 400
    assert r.wall_s < 20  # refused before any load: no duration, no graceful stop
