"""Bad input from the command line and from files: a clear message naming the problem and
k6's exit code (104 for configuration), never a traceback. Each case runs the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
