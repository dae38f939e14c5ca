"""What a `--workers` run writes and how it splits, through the real CLI: its archive (one
file, merged at the coordinator) reads back through `loadgen merge` as the run's own
numbers, and a fleet given an execution segment splits that segment among its workers.

Each case asserts the exit code, no traceback, a bounded coordinator RSS and an end within
the test's own length plus process start-up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_run import CliRun, run_cli
from servers import serve

RSS_MB = 400
START_S = 6.0  # N interpreters importing loadgen on a busy 2-core machine
RATE_SCENARIO = """
from loadgen import ConstantArrivalRate, Scenario

class R(Scenario):
    executor = ConstantArrivalRate(rate=80, duration="2s", pre_allocated_vus=10)
    thresholds = {"http_req_duration": ["p(95)<5000"]}

    async def iteration(self, vu):
        r = await vu.http.get("/", tags={"w": str(vu.id % 2)})
        vu.check(r, {"ok": lambda r: r.status == 200})
"""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve() as url:
        yield url


def script(tmp_path: Path, text: str, name: str = "s.py") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def metrics(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())["metrics"]  # type: ignore[no-any-return]


def clean(r: CliRun, code: int, within_s: float) -> None:
    assert r.code == code, r.text[-3000:]
    r.assert_clean()
    assert r.peak_rss_mb < RSS_MB
    assert r.wall_s < within_s, r.wall_s


def test_a_fleet_archive_merges_back_to_the_runs_own_numbers(tmp_path: Path, base_url: str):
    archive, run_export, merged_export = (tmp_path / n for n in ("a.ndjson", "run.json",
                                                                   "merged.json"))
    r = run_cli("run", script(tmp_path, RATE_SCENARIO), "-q", "--workers", "2", "--archive",
                str(archive), "--summary-export", str(run_export), env={"BASE_URL": base_url})
    clean(r, 0, 2 + START_S)
    lines = [json.loads(x) for x in archive.read_text().splitlines()]
    assert lines[0]["kind"] == "header" and lines[-1]["kind"] == "end"
    m = merge_and_compare(archive, run_export, merged_export)
    assert m["http_reqs"]["count"] == 160 and m["checks"]["passes"] == 160


def merge_and_compare(archive: Path, run_export: Path, merged_export: Path) -> dict[str, Any]:
    r = run_cli("merge", str(archive), "--summary-export", str(merged_export))
    clean(r, 0, 10)
    ran, merged = metrics(run_export), metrics(merged_export)
    for name in ("iterations", "http_reqs", "checks", "http_req_duration",
                 "iteration_duration", "vus", "vus_max", "data_received"):
        assert merged[name] == ran[name], name
    return merged
