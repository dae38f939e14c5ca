"""`--workers N --ray`: the same fleet, its workers placed as Ray actors.

One real CLI run on a local Ray (started by the run itself; Ray's start-up is seconds, so
one run carries most assertions): shared-iterations 10 runs exactly 10 across two actors,
the merged counts equal those of a local `--workers 2` run of the same file, the scenario
file reached the actors through Ray (it is deleted before they start), and a failing
threshold exits 99. Without Ray, --ray is a clear 104; that case runs everywhere.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "hostile"))  # the CLI runner
from fleet_scenarios import kill_scenario  # noqa: E402
from hostile_run import CliRun, run_cli  # noqa: E402
from servers import serve  # noqa: E402

RSS_MB = 600  # the coordinator is also Ray's driver (its client libraries)
RAY_START_S = 40.0  # a local Ray head, two actors and their worker processes, 2 busy cores
HAVE_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason="ray is not installed "
                               "(pip install -e '.[ray]'); the Ray fleet is not tested")
SCENARIO = """
import os
from loadgen import Scenario, SharedIterations

class S(Scenario):
    executor = SharedIterations(vus=3, iterations=10, max_duration="5s")
    thresholds = {"http_req_duration": ["max<0"]}  # cannot pass: the exit code is 99

    async def iteration(self, vu):
        r = await vu.http.get("/")
        vu.check(r, {"status is 200": lambda r: r.status == 200})
        vu.check(__file__, {"file shipped": lambda f: "loadgen-ray-" in f
                            or os.environ.get("RAY_FLEET_TEST") is None})
"""
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DISABLE_IMPORT_WARNING": "1"}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve() as url:
        yield url


def metrics(path: Path) -> dict[str, dict[str, float]]:
    return json.loads(path.read_text())["metrics"]  # type: ignore[no-any-return]


def clean(r: CliRun, code: int, within_s: float, rss_mb: float) -> None:
    r.assert_ended(code, within_s, rss_mb)


@needs_ray
def test_a_ray_fleet_runs_exactly_and_merges_like_a_local_fleet(tmp_path: Path, base_url: str):
    path = tmp_path / "s.py"
    path.write_text(SCENARIO)
    local_out = tmp_path / "local.json"
    r = run_cli("run", str(path), "-q", "--workers", "2", "--summary-export", str(local_out),
                env={"BASE_URL": base_url})
    clean(r, 99, 5 + 10, 400)
    ray_out, ray_summary = tmp_path / "ray.json", tmp_path / "summary.json"
    r = run_cli("run", str(path), "--workers", "2", "--summary-export", str(ray_out),
                "--summary-json", str(ray_summary), "--ray",
                env={"BASE_URL": base_url, "RAY_FLEET_TEST": "1", **RAY_ENV},
                timeout=5 + RAY_START_S + 15)
    clean(r, 99, 5 + RAY_START_S, RSS_MB)
    assert "workers: 2 Ray actors on a local Ray" in r.err and "start skew" in r.err
    local, ray = metrics(local_out), metrics(ray_out)
    assert ray["iterations"]["count"] == 10
    for name in ("iterations", "http_reqs"):
        assert ray[name]["count"] == local[name]["count"], name
    assert ray["checks"]["passes"] == local["checks"]["passes"] + 0 == 20
    assert ray["checks"]["fails"] == 0  # the file the actors ran is their own copy
    assert ray["http_req_duration"]["thresholds"] == {"max<0": True}  # failed (inverted)
    fleet = json.loads(ray_summary.read_text())["loadgen"]["fleet"]
    assert fleet["workers"] == 2 and fleet["lost"] == []




@needs_ray
def test_a_worker_killed_inside_its_actor_is_named_and_the_run_stops_110(
        tmp_path: Path, base_url: str):
    path = tmp_path / "k.py"
    path.write_text(kill_scenario())
    summary = tmp_path / "summary.json"
    r = run_cli("run", str(path), "-q", "--workers", "2", "--ray", "--summary-json",
                str(summary), env={"BASE_URL": base_url, **RAY_ENV}, timeout=RAY_START_S + 20)
    clean(r, 110, RAY_START_S + 5, RSS_MB)  # far less than the scenario's 20 s
    assert "worker 1 (Ray actor on " in r.err and "lost: killed by SIGKILL" in r.err
    data = json.loads(summary.read_text())
    assert [x["worker"] for x in data["loadgen"]["fleet"]["lost"]] == [1]
    assert data["metrics"]["iterations"]["values"]["count"] >= 10  # what it sent is kept


def test_ray_missing_is_a_clear_104(tmp_path: Path):
    """A shadow `ray` package that cannot be imported stands for a machine without Ray."""
    shadow = tmp_path / "shadow" / "ray"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named ray (shadow)')\n")
    path = tmp_path / "s.py"
    path.write_text(SCENARIO)
    pythonpath = os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")])
    r = run_cli("run", str(path), "--workers", "2", "--ray", env={"PYTHONPATH": pythonpath})
    clean(r, 104, 10, 400)
    assert "pip install 'loadgen[ray]'" in r.err


def test_ray_without_workers_or_to_an_unreachable_cluster_is_a_clear_104(tmp_path: Path):
    """Both problems at once, before any Ray start-up (port 1 on loopback refuses)."""
    path = tmp_path / "s.py"
    path.write_text(SCENARIO)
    r = run_cli("run", str(path), "--ray=127.0.0.1:1")
    clean(r, 104, 10, 400)
    assert "--ray places the workers of a --workers run: give --workers N" in r.err
    assert "--ray 127.0.0.1:1: cannot reach the Ray cluster there" in r.err


class _Method:
    """`actor.method.remote(...)` as Ray offers it: something to await."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def remote(self, *args: Any) -> Any:
        async def call() -> Any:
            return self.fn(*args)
        return call()


class FakeActor:
    """The relay actor's methods without Ray: a worker that wrote `chunks`, and what was sent."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.sent: list[bytes] = []
        self.read = _Method(lambda: self.chunks.pop(0) if self.chunks else b"")
        self.send = _Method(lambda data: self.sent.append(data) or True)
        self.close_stdin = _Method(lambda: None)


def link_for(chunks: list[bytes], offset_ns: int = 0, file: str | None = None) -> Any:
    from loadgen.fleet.ray_link import RayLink

    return RayLink(0, FakeActor(chunks), {"node": "n", "pid": 1, "file": file}, offset_ns)


@needs_ray
async def test_frames_split_and_joined_across_relay_calls_come_out_whole():
    from loadgen.fleet.wire import encode

    a, b = encode({"t": "ready", "pid": 7}), encode({"t": "interval", "iv": "x" * 3000})
    stream = a + b
    link = link_for([stream[:2], stream[2:9], stream[9:len(a) + 5], stream[len(a) + 5:]])
    assert await link.receive() == {"t": "ready", "pid": 7}
    assert (await link.receive())["iv"] == "x" * 3000
    assert await link.receive() is None  # end of stream between frames


@needs_ray
async def test_a_bad_stream_is_a_wire_error_without_reading_past_the_bound():
    from loadgen.fleet.wire import MAX_FRAME, WireError

    huge = (MAX_FRAME + 1).to_bytes(4, "big")
    link = link_for([huge, b"never read"])
    with pytest.raises(WireError, match="over the"):
        await link.receive()
    assert link.actor.chunks == [b"never read"]  # refused on the header alone
    with pytest.raises(WireError, match="inside a frame"):
        await link_for([(10).to_bytes(4, "big") + b"abc"]).receive()


@needs_ray
async def test_the_config_names_the_shipped_file_and_go_and_started_follow_the_node_clock():
    from loadgen.fleet.wire import encode

    started = encode({"t": "started", "at_ns": 5_000})
    link = link_for([started], offset_ns=1_000, file="/tmp/loadgen-ray-x/s.py")
    assert link.send(encode({"t": "config", "kw": {"file": "/home/me/s.py", "vus": 2}}))
    assert link.send(encode({"t": "go", "origin_ns": 10, "t0_ns": 20, "setup": {}}))
    link.close()
    await asyncio.wait_for(link.pump, 2.0)
    config, go = (orjson.loads(f[4:]) for f in link.actor.sent)
    assert config["kw"] == {"file": "/tmp/loadgen-ray-x/s.py", "vus": 2}
    assert (go["origin_ns"], go["t0_ns"]) == (1_010, 1_020)
    assert await link.receive() == {"t": "started", "at_ns": 4_000}  # coordinator's clock
    assert not link.send(encode({"t": "stop"}))  # after close: the pump has ended
