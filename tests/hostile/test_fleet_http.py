"""`loadgen http` places its workers as `run` does: over TCP (--listen) and on Ray (--ray).

Each case asserts the exit code, the counts, no traceback, a bounded coordinator RSS and an
end within the test's length plus start-up (Ray's own start-up is seconds).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hostile_run import CliRun, run_cli
from servers import free_port, serve

RSS_MB = 400
START_S = 8.0
HAVE_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason="ray is not installed (pip install -e "
                               "'.[ray]', which make install does); the Ray fleet is not tested")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve() as url:
        yield url


def clean(r: CliRun, code: int, within_s: float) -> None:
    r.assert_ended(code, within_s, RSS_MB)


def counts(path: Path) -> tuple[int, int]:
    m = json.loads(path.read_text())["metrics"]
    return int(m["http_reqs"]["count"]), int(m["checks"]["passes"])


def test_http_workers_join_over_tcp(tmp_path: Path, base_url: str):
    out, port = tmp_path / "export.json", free_port()
    with ThreadPoolExecutor(1) as pool:
        coordinator = pool.submit(
            run_cli, "http", "GET", f"{base_url}/", "--rps", "40", "-d", "1s", "--expect",
            "200", "--workers", "2", "--listen", f"127.0.0.1:{port}", "--fleet-token", "t",
            "--join-timeout", "20", "-q", "--summary-export", str(out), timeout=40)
        workers = [subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "loadgen", "worker", "--connect", f"127.0.0.1:{port}",
             "--index", str(i), "--token", "t", "--connect-timeout", "20"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
            for i in range(2)]
        r = coordinator.result()
        assert [w.wait(10) for w in workers] == [0, 0]
    clean(r, 0, 1 + 2 * START_S)
    assert counts(out) == (40, 40)


def test_http_listen_without_workers_is_104():
    r = run_cli("http", "GET", "http://127.0.0.1:9/", "--listen", "127.0.0.1:1",
                "--fleet-token", "t", "-q")
    clean(r, 104, 10)
    assert "--listen needs --workers N" in r.err


def test_http_ray_to_an_unreachable_cluster_is_104():
    r = run_cli("http", "GET", "http://127.0.0.1:9/", "--workers", "2", "--ray=127.0.0.1:1",
                "-q")
    clean(r, 104, 15)
    assert "--ray 127.0.0.1:1: cannot reach the Ray cluster there" in r.err


@needs_ray
def test_http_workers_as_ray_actors_as_many_as_ray_has_cpus(tmp_path: Path, base_url: str):
    out, raw = tmp_path / "export.json", tmp_path / "raw.ndjson"
    r = run_cli("http", "GET", f"{base_url}/", "--rps", "40", "-d", "1s", "--expect", "200",
                "--workers", "auto", "--ray", "--summary-export", str(out), "-o",
                f"json={raw}", timeout=90)
    clean(r, 0, 60)
    assert counts(out) == (40, 40)
    points = [json.loads(x) for x in raw.read_text().splitlines()]
    reqs = [p for p in points if p["type"] == "Point" and p["metric"] == "http_reqs"]
    assert len(reqs) == 40 and all("instance" in p["data"]["tags"] for p in reqs)
    assert "Ray actors on a local Ray (auto: " in r.err
    assert "CPU(s) of a local Ray" in r.err  # Ray's count, not sched_getaffinity's
