"""Execution segments and shared data through the real CLI: bad segment flags and bad data
files are refused with a message and exit 104 (never a traceback), and two instances of one
test, each with its segment, never take the same data row and together run the whole test."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hostile_run import CliRun, run_cli

SCENARIO = """
import loadgen
from loadgen import Scenario, SharedIterations

ROWS = loadgen.data.{kind}({path!r})

class S(Scenario):
    executor = SharedIterations(vus=3, iterations=10)

    async def iteration(self, vu):
        row = ROWS.per_iteration(vu, wrap=False)
        print("ROW", row["name"], vu.id_in_test, flush=True)
"""
REFUSED_WITHIN_S = 20  # nothing runs: start-up and the message only
RSS_MB = 400


def write(tmp_path: Path, kind: str, data: bytes | None) -> str:
    p = tmp_path / f"rows.{kind}"
    if data is not None:
        p.write_bytes(data)
    script = tmp_path / "s.py"
    script.write_text(SCENARIO.format(kind=kind, path=p.name))
    return str(script)


def refused(r: CliRun, message: str) -> None:
    assert r.code == 104, r.text[-2000:]
    assert message in r.err
    r.assert_clean()
    assert r.peak_rss_mb < RSS_MB
    assert r.wall_s < REFUSED_WITHIN_S


@pytest.mark.parametrize(("flags", "message"), [
    (["--execution-segment", "1/3:2/3x"],
     "'2/3x' is not a valid percentage, decimal, fraction or interval value"),
    (["--execution-segment", "2/3:1/3"], "segment start(0.67) must be less than its end(0.33)"),
    (["--execution-segment", "0:1/3", "--execution-segment-sequence", "0,1/2,1"],
     "provided segment 0:1/3 can't be found in sequence 0,1/2,1"),
    (["--execution-segment-sequence", "0"],
     "at least 2 points are needed for an execution segment sequence, 1 given"),
    (["--execution-segment", "0:0.1234567"], "at most 1000000 is supported"),
])
def test_bad_segment_flags(tmp_path: Path, flags: list[str], message: str):
    script = write(tmp_path, "csv", b"name\nu0\n")
    refused(run_cli("run", script, "-q", *flags), message)


def test_bad_segment_flags_on_http(tmp_path: Path):
    r = run_cli("http", "GET", "http://127.0.0.1:9/", "-q", "--execution-segment", "150%")
    refused(r, "segment end value can't be more than 1 but was 1.50")


@pytest.mark.parametrize(("kind", "content", "message"), [
    ("csv", None, "does not exist"),
    ("csv", b"name\n\xff\xfe", "is not UTF-8 text"),
    ("csv", b"", "is empty"),
    ("json", b"   \n", "is empty"),
    ("json", b'{"name": 1}', "must hold a JSON array"),
])
def test_bad_data_files(tmp_path: Path, kind: str, content: bytes | None, message: str):
    refused(run_cli("run", write(tmp_path, kind, content), "-q"), message)


def test_two_instances_share_the_test_and_never_a_row(tmp_path: Path):
    rows = b"name\n" + b"".join(b"u%d\n" % i for i in range(10))
    script = write(tmp_path, "csv", rows)

    def instance(segment: str) -> CliRun:
        return run_cli("run", script, "--no-summary", "--execution-segment", segment,
                       "--execution-segment-sequence", "0,1/2,1", "--archive",
                       str(tmp_path / f"{segment.replace('/', '_')}.ndjson"), timeout=30)

    with ThreadPoolExecutor(2) as pool:  # both at once, as they would be deployed
        runs = list(pool.map(instance, ["0:1/2", "1/2:1"]))
    taken = []
    for r, seg in zip(runs, ["0:1/2", "1/2:1"], strict=True):
        assert r.code == 0, r.text[-2000:]
        r.assert_clean()
        assert r.peak_rss_mb < RSS_MB
        assert r.wall_s < 20  # 10 instant iterations: no duration or graceful stop used
        assert f"execution: segment {seg} in 0,1/2,1" in r.err
        assert "scenarios: (50.00%) 1 scenario" in r.err
        taken.append([ln.split()[1] for ln in r.out.splitlines() if ln.startswith("ROW ")])
    # shared-iterations 10 on 3 VUs in halves: VUs 2/1, iterations split as the VUs (7/3)
    assert [len(t) for t in taken] == [7, 3]
    assert sorted(taken[0] + taken[1]) == sorted(f"u{i}" for i in range(10))
    # the two archives say which segment made them, and merge into the one whole test
    archives = sorted(str(p) for p in tmp_path.glob("*.ndjson"))
    headers = [json.loads(Path(a).read_text().splitlines()[0]) for a in archives]
    assert sorted(h["execution_segment"] for h in headers) == ["0:1/2", "1/2:1"]
    merged = run_cli("merge", *archives, "--summary-export", str(tmp_path / "m.json"))
    assert merged.code == 0, merged.text[-2000:]
    merged.assert_clean()
    export = json.loads((tmp_path / "m.json").read_text())
    assert export["metrics"]["iterations"]["count"] == 10


def test_an_instance_with_no_share_of_the_test_runs_nothing_and_says_so(tmp_path: Path):
    """More instances than VUs (k6 allows it): the empty one warns and exits 0 at once."""
    script = tmp_path / "one.py"
    script.write_text("from loadgen import ConstantVUs, Scenario\n\n"
                      "class S(Scenario):\n    executor = ConstantVUs(vus=1, duration='30s')\n\n"
                      "    async def iteration(self, vu):\n        print('RAN', flush=True)\n")
    r = run_cli("run", str(script), "--execution-segment", "1/2:1", "--no-summary")
    assert r.code == 0, r.text[-2000:]
    r.assert_clean()
    assert "scenario s has no work in execution segment 1/2:1 in 0,1/2,1" in r.err
    assert "RAN" not in r.out
    assert r.peak_rss_mb < RSS_MB
    assert r.wall_s < 20  # not the scenario's 30 s
