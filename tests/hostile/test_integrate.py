"""The end line's `results` (the events, recovery verdicts and slowest requests a run
judged at its end) damaged: `loadgen merge` and `loadgen report` refuse the archive with
exit 104 naming the file, the line and the key, no traceback, bounded memory, a quick end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_run import run_cli

SCENARIO = """
from loadgen import VU, Scenario, SharedIterations

class S(Scenario):
    executor = SharedIterations(vus=1, iterations=20)

    async def iteration(self, vu: VU):
        pass
"""
MAX_RSS_MB = 400
MAX_WALL_S = 15  # no load runs here: reading and refusing must be quick
BAD = {
    "not_an_object": ("a list", "results must be an object"),
    "sections": ({"sections": ["events"]}, "results.sections must be an object"),
    "verdict": ({"verdicts": [{"scenario": 3, "ok": True, "headline": "x"}]},
                "results.verdicts: each needs scenario, ok and headline"),
    "slowest": ({"slowest_requests": [1, 2]}, "results.slowest_requests must be a list"),
    "too_many": ({"warnings": ["w"] * 10_001}, "results.warnings must be a list of at most"),
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("trailer")
    (d / "s.py").write_text(SCENARIO)
    r = run_cli("run", str(d / "s.py"), "-q", "--no-summary", "--archive", str(d / "a.ndjson"))
    assert r.code == 0, r.err[-2000:]
    return d / "a.ndjson"


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_damaged_results_trailer_is_refused(archive: Path, tmp_path: Path,
                                             case: str) -> None:
    lines = archive.read_text().splitlines()
    end = json.loads(lines[-1])
    end["results"], message = BAD[case]
    bad = tmp_path / f"{case}.ndjson"
    bad.write_text("\n".join([*lines[:-1], json.dumps(end)]) + "\n")
    verb = ("report", str(bad), "-o", str(tmp_path / "r.html")) if case == "verdict" else (
        "merge", str(bad))
    r = run_cli(*verb)
    r.assert_clean()
    assert r.code == 104, r.err[-2000:]
    assert f"archive {bad}: line {len(lines)}: bad end line: {message}" in r.err
    assert r.peak_rss_mb < MAX_RSS_MB
    assert r.wall_s < MAX_WALL_S
