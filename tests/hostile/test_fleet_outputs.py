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
    r.assert_ended(code, within_s, RSS_MB)


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
                 "iteration_duration", "vus", "vus_max", "data_received", "loadgen_cpu"):
        # counts, min, max and percentiles exactly; averages and rates come from float
        # sums, added per worker here and per archive line there (the last digit may move)
        assert merged[name].keys() == ran[name].keys(), name
        for key, value in ran[name].items():
            assert merged[name][key] == (value if not isinstance(value, float) else
                                         pytest.approx(value, rel=1e-12, abs=0)), (name, key)
    return merged


COUNTED = """
from loadgen import Counter, Scenario, SharedIterations

seen = Counter("seen")

class S(Scenario):
    executor = SharedIterations(vus=3, iterations=11, max_duration="5s")

    async def iteration(self, vu):
        seen.add(1, tags={"it": str(vu.iteration_in_test), "vu": str(vu.id_in_test)})
"""


def seen_tags(archive: Path) -> list[tuple[str, str]]:
    lines = [json.loads(x) for x in archive.read_text().splitlines()]
    return [(m["tags"]["it"], m["tags"]["vu"]) for x in lines if x["kind"] == "interval"
            for m in x["metrics"] if m["metric"] == "seen" for _ in range(int(m["count"]))]


def test_a_fleet_splits_its_own_execution_segment_among_its_workers(tmp_path: Path):
    """segment 0:1/2 of 0,1/2,1 over 2 workers (0:1/4 and 1/4:1/2 of it), beside a plain
    instance running 1/2:1: together exactly the unsplit test, every iteration once."""
    path = script(tmp_path, COUNTED)
    seq = ["--execution-segment-sequence", "0,1/2,1"]
    a, b, single = tmp_path / "a.ndjson", tmp_path / "b.ndjson", tmp_path / "single.ndjson"
    r = run_cli("run", path, "--workers", "2", "--execution-segment", "0:1/2", *seq,
                "--archive", str(a))
    clean(r, 0, 5 + START_S)
    assert "execution: segment 0:1/2" in r.err and "of its segment" in r.err
    r = run_cli("run", path, "-q", "--execution-segment", "1/2:1", *seq, "--archive", str(b))
    clean(r, 0, 5 + START_S)
    r = run_cli("run", path, "-q", "--execution-segment", "0:1/2", *seq, "--archive",
                str(single))
    clean(r, 0, 5 + START_S)
    fleet, other = seen_tags(a), seen_tags(b)
    assert len(fleet) == len(seen_tags(single)) == 7  # its share (k6: by VUs, 2 of 3)
    assert sorted(int(it) for it, _ in fleet + other) == list(range(11))  # each once
    # VUs 1 and 3 are segment 0:1/2's (striped), VU 2 is 1/2:1's; each fleet worker has one
    assert {vu for _, vu in fleet} <= {"1", "3"} and {vu for _, vu in other} == {"2"}
    merged = tmp_path / "merged.json"
    r = run_cli("merge", str(a), str(b), "--summary-export", str(merged))
    clean(r, 0, 10)
    assert metrics(merged)["iterations"]["count"] == 11


def test_raw_points_of_every_worker_reach_the_output_with_an_instance_tag(tmp_path: Path,
                                                                         base_url: str):
    raw, export = tmp_path / "raw.ndjson", tmp_path / "export.json"
    r = run_cli("run", script(tmp_path, RATE_SCENARIO), "-q", "--workers", "2", "-o",
                f"json={raw}", "--summary-export", str(export), env={"BASE_URL": base_url})
    clean(r, 0, 2 + START_S)
    lines = [json.loads(x) for x in raw.read_text().splitlines()]
    reqs = [x for x in lines if x["type"] == "Point" and x["metric"] == "http_reqs"]
    assert len(reqs) == metrics(export)["http_reqs"]["count"] == 160
    by_instance = {x["data"]["tags"]["instance"] for x in reqs}
    assert by_instance == {"0", "1"}
    declared = [x["metric"] for x in lines if x["type"] == "Metric"]
    assert len(declared) == len(set(declared)) and "http_reqs" in declared
    assert declared.index("http_reqs") < lines.index(reqs[0])  # declared before its points
    assert any(x["metric"] == "vus" for x in lines)  # the coordinator's own samples too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json", "raw.ndjson",
                                                           "s.py"]  # parts removed


HELD = """
from loadgen import ConstantVUs, Scenario

class H(Scenario):
    executor = ConstantVUs(vus=4, duration="2s")

    async def iteration(self, vu):
        await vu.sleep(0.1)
"""


def test_merged_instances_add_up_their_vus_and_show_the_busiest_cpu(tmp_path: Path):
    """Two halves of a test, 2 VUs each: the merge has 4 VUs (not one instance's 2), and
    its generator CPU is one instance's, named with every other's."""
    path = script(tmp_path, HELD)
    seq = ["--execution-segment-sequence", "0,1/2,1"]
    archives = []
    for seg in ("0:1/2", "1/2:1"):
        archives.append(str(tmp_path / f"{seg.replace('/', '_')}.ndjson"))
        r = run_cli("run", path, "-q", "--execution-segment", seg, *seq, "--archive",
                    archives[-1])
        clean(r, 0, 2 + START_S)
    export, summary = tmp_path / "merged.json", tmp_path / "summary.json"
    r = run_cli("merge", *archives, "--summary-export", str(export), "--summary-json",
                str(summary))
    clean(r, 0, 10)
    m = metrics(export)
    assert m["vus"]["max"] == 4 and m["vus_max"]["max"] == 4
    cpu = json.loads(summary.read_text())["loadgen"]["instances"]["loadgen_cpu"]
    assert sorted(cpu["by_instance"]) == sorted(archives) and cpu["busiest"] in archives
    assert m["loadgen_cpu"]["max"] == cpu["by_instance"][cpu["busiest"]]["max"]


TRACKED = """
from loadgen import Mixed

class M(Mixed):
    rate, vus, duration = 20, 4, "2s"
    delivery_grace = 0.2

    async def iteration(self, vu):
        i = vu.iteration_in_test
        vu.track.sent(f"m{i}")
        if i % 5:  # every fifth is lost: as many on each worker (even and odd slots)
            vu.track.received(f"m{i}")
        if i % 5 == 1:
            vu.track.received(f"m{i}")  # a duplicate
"""


def test_delivery_tracking_is_judged_over_the_whole_fleet(tmp_path: Path):
    """Each worker pairs its own sends and receipts; their counts and latency histograms
    merge at the coordinator, so the Mixed verdict and thresholds see the fleet's."""
    export, summary = tmp_path / "export.json", tmp_path / "summary.json"
    r = run_cli("run", script(tmp_path, TRACKED), "-q", "--workers", "2", "--summary-export",
                str(export), "--summary-json", str(summary))
    clean(r, 99, 2 + START_S)  # 8 lost: the verdict fails
    m = metrics(export)
    assert m["messages_sent"]["count"] == 40
    assert m["messages_delivered"]["count"] == 32 and m["messages_lost"]["count"] == 8
    assert m["messages_duplicated"]["count"] == 8
    figures = json.loads(summary.read_text())["loadgen"]["verdicts"]["m"]["figures"]
    assert (figures["messages_sent"], figures["messages_lost"]) == (40, 8)
    assert figures["delivery_p95_ms"] is not None


ARRIVALS = """
from loadgen import ConstantArrivalRate, Counter, Scenario

seen = Counter("seen")

class A(Scenario):
    executor = ConstantArrivalRate(rate=45, duration="1s", pre_allocated_vus=6)

    async def iteration(self, vu):
        seen.add(1, tags={"it": str(vu.iteration_in_test), "vu": str(vu.id_in_test)})
"""


def test_a_segmented_fleet_starts_exactly_its_segments_arrivals(tmp_path: Path):
    """Arrival-rate starts are striped by their slot in the whole schedule: the fleet's two
    workers start between them exactly the slots of 1/3:1 in 0,1/3,1, none twice."""
    path = script(tmp_path, ARRIVALS)
    seq = ["--execution-segment-sequence", "0,1/3,1"]
    a, b = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    r = run_cli("run", path, "-q", "--workers", "2", "--execution-segment", "1/3:1", *seq,
                "--archive", str(a))
    clean(r, 0, 1 + START_S)
    r = run_cli("run", path, "-q", "--execution-segment", "0:1/3", *seq, "--archive", str(b))
    clean(r, 0, 1 + START_S)
    fleet, other = seen_tags(a), seen_tags(b)
    assert len(fleet) == 30 and len(other) == 15
    assert sorted(int(it) for it, _ in fleet + other) == list(range(45))


FAULTED = """
from loadgen import At, ConstantArrivalRate, HttpCall, Recovery, Scenario

class S(Scenario):
    executor = ConstantArrivalRate(rate=40, duration="4s", pre_allocated_vus=10)
    delivery_grace = 0.2
    events = [At("1500ms", HttpCall("POST", "/admin/faults", json={"mode": "error"}),
                 name="break"),
              At("2500ms", HttpCall("POST", "/admin/faults", json={"mode": "ok"}),
                 name="heal")]
    recovery = [Recovery(after="break", until="heal", within="1500ms", tolerance=1.0)]

    async def iteration(self, vu):
        r = await vu.http.get("/")
        vu.track.sent(vu.iteration_in_test)
        if r.status == 200:  # a message the faulted service took is lost
            vu.track.received(vu.iteration_in_test)
"""


def test_a_recovery_counts_the_fault_windows_messages_over_every_worker(tmp_path: Path):
    from fault_servers import fault_server

    summary, export = tmp_path / "summary.json", tmp_path / "export.json"
    with fault_server() as base:
        r = run_cli("run", script(tmp_path, FAULTED), "-q", "--workers", "2",
                    "--summary-json", str(summary), "--summary-export", str(export),
                    env={"BASE_URL": base})
    assert r.code in (0, 99), r.text[-3000:]  # whether it recovered in time is not the point
    r.assert_clean()
    assert r.peak_rss_mb < RSS_MB and r.wall_s < 4 + START_S
    figures = json.loads(summary.read_text())["loadgen"]["verdicts"]["s"]["figures"]
    lost = metrics(export)["messages_lost"]["count"]
    assert 0 < figures["fault_window_lost"] <= lost
    assert figures["fault_window_sent"] >= figures["fault_window_lost"]
    assert figures["fault_window_sent"] > 40 * 1.0 / 2  # more than one worker's second
