"""`loadgen merge` on archives it must refuse: exit 104 with a message naming the file and the
problem, no traceback, bounded memory, a quick end. Archives come from real (server-less)
runs, then are damaged the way disks, copies and mix-ups damage them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_run import run_cli

SCENARIO = """
from loadgen import VU, Scenario, SharedIterations, Trend
value = Trend("my_value")

class S(Scenario):
    executor = SharedIterations(vus=2, iterations=40)

    async def iteration(self, vu: VU):
        value.add(vu.iteration * 1.5)
"""
MAX_RSS_MB = 400
MAX_WALL_S = 15  # no load runs here: reading and refusing must be quick


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("archives")
    (d / "s.py").write_text(SCENARIO)
    (d / "other.py").write_text(SCENARIO + "\n# another test\n")
    for name, script in (("a", "s.py"), ("b", "s.py"), ("c", "other.py")):
        r = run_cli("run", str(d / script), "-q", "--no-summary", "--archive",
                    str(d / f"{name}.ndjson"))
        assert r.code == 0, r.err[-2000:]
    good = (d / "a.ndjson").read_text()
    lines = good.splitlines(keepends=True)
    (d / "truncated.ndjson").write_text(good[: len(good) - len(lines[-1]) - 7])
    (d / "garbage.ndjson").write_bytes(b"\x00\x01PK\x03\x04 not an archive\n")
    (d / "midgarbage.ndjson").write_text(lines[0] + "{{{ oops\n" + "".join(lines[1:]))
    (d / "empty.ndjson").write_text("")
    (d / "copy.ndjson").write_text(good)
    head = json.loads(lines[0])
    head["hdr"]["significant_figures"] = 2
    (d / "sigfigs.ndjson").write_text(json.dumps(head) + "\n" + "".join(lines[1:]))
    end = json.loads(lines[-1])
    end["exit_code"] = True
    (d / "badend.ndjson").write_text("".join(lines[:-1]) + json.dumps(end) + "\n")
    iv = json.loads(lines[1])
    iv["health"]["peak_cpu"] = {"a": 1}
    (d / "badhealth.ndjson").write_text(lines[0] + json.dumps(iv) + "\n" + "".join(lines[2:]))
    head = json.loads(lines[0])
    head["start"] = "yesterday"
    (d / "badhead.ndjson").write_text(json.dumps(head) + "\n" + "".join(lines[1:]))
    head = json.loads(lines[0])
    for m in head["metrics"]:
        if m["name"] == "my_value":
            m["unit_exp"] = -10
    (d / "unit.ndjson").write_text(json.dumps(head) + "\n" + "".join(lines[1:]))
    return {p.stem: p for p in d.glob("*.ndjson")}


CASES = [
    (["missing"], "archive {missing}: No such file or directory"),
    (["a", "truncated"], "archive {truncated}: line {last} is cut off (truncated archive;"),
    (["garbage"], "archive {garbage}: line 1 is not JSON"),
    (["a", "midgarbage"], "archive {midgarbage}: line 2 is not JSON"),
    (["empty"], "archive {empty}: empty file (not a loadgen archive)"),
    (["a", "c"], "archives of different scenario files: {a} ran s.py"),
    (["a", "b", "a"], "archives {a} and {a} are the same run"),
    (["a", "copy"], "archives {a} and {copy} are the same run"),
    (["badend"], "archive {badend}: line {endline}: bad end line"),
    (["badhealth"], "archive {badhealth}: line 2: malformed interval"),
    (["badhead"], "archive {badhead}: bad header: start must be {{unix_ns, iso}}"),
    (["a", "sigfigs"], "archive {sigfigs}: incompatible histogram configuration"),
    (["unit", "b"], "archive {unit}: incompatible histogram configuration: metric my_value "
                    "was recorded in units of 2**-10"),
]


@pytest.mark.parametrize(("names", "message"), CASES, ids=[c[1][:40] for c in CASES])
def test_bad_archives_are_refused_with_104(archives: dict[str, Path], names: list[str],
                                           message: str) -> None:
    paths = {k: str(v) for k, v in archives.items()}
    paths["missing"] = str(archives["a"].parent / "missing.ndjson")
    paths["last"] = str(len(archives["truncated"].read_text().split("\n")))
    paths["endline"] = str(len(archives["a"].read_text().splitlines()))
    r = run_cli("merge", *(paths[n] for n in names), timeout=MAX_WALL_S)
    assert r.code == 104, r.text[-2000:]
    assert message.format(**paths) in r.err, r.err[-2000:]
    r.assert_clean()
    assert r.peak_rss_mb < MAX_RSS_MB
    assert r.wall_s < MAX_WALL_S


def test_good_archives_merge(archives: dict[str, Path]) -> None:
    """The control case: the same runs, undamaged, merge to the sum (exit 0)."""
    out = archives["a"].parent / "m.json"
    r = run_cli("merge", str(archives["a"]), str(archives["b"]), "--summary-export", str(out),
                timeout=MAX_WALL_S)
    assert r.code == 0, r.text[-2000:]
    r.assert_clean()
    assert r.peak_rss_mb < MAX_RSS_MB and r.wall_s < MAX_WALL_S
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["iterations"]["count"] == 80
    assert metrics["my_value"]["max"] == 39 * 1.5


def test_an_unwritable_archive_path_is_refused_before_the_run(archives: dict[str, Path]) -> None:
    where = archives["a"].parent
    r = run_cli("run", str(where / "s.py"), "-q", "--archive", str(where / "no" / "a.ndjson"),
                timeout=MAX_WALL_S)
    assert r.code == 104, r.text[-2000:]
    assert f"--archive {where / 'no' / 'a.ndjson'}: the directory" in r.err
    r.assert_clean()
    assert r.peak_rss_mb < MAX_RSS_MB and r.wall_s < MAX_WALL_S


def test_raw_points_cannot_come_from_an_archive(archives: dict[str, Path]) -> None:
    out = archives["a"].parent / "raw.ndjson"
    r = run_cli("merge", str(archives["a"]), "-o", f"json={out}", timeout=MAX_WALL_S)
    assert r.code == 104, r.text[-2000:]
    assert f"-o json={out}: an archive keeps per-second aggregates, not every sample" in r.err
    r.assert_clean()
    assert r.peak_rss_mb < MAX_RSS_MB and r.wall_s < MAX_WALL_S


def test_an_archive_that_cannot_be_written_fails_the_run_with_110(
        archives: dict[str, Path]) -> None:
    """As for any result file: a CI gate must not pass on an archive nobody can merge."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    r = run_cli("run", str(archives["a"].parent / "s.py"), "-q", "--no-summary",
                "--archive", "/dev/full", timeout=MAX_WALL_S)
    assert r.code == 110, r.text[-2000:]
    assert "could not write --archive /dev/full: No space left on device" in r.err
    r.assert_clean()
    assert r.peak_rss_mb < MAX_RSS_MB and r.wall_s < MAX_WALL_S
