"""Live outputs through the real CLI: `--out prometheus=` that cannot bind is a 104 before
anything runs (alone, beside other problems, under --workers), and the plain progress lines
a CI log gets (not a terminal) carry the live figures, every --progress-interval, once.

Each case asserts the exit code, the message, no traceback, a bounded peak RSS and an end
within the run's length plus a margin."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_run import run_cli
from servers import serve

RSS_MB = 300
START_S = 8.0  # an interpreter importing loadgen (and, with --workers, its workers)
SCENARIO = """
from loadgen import ConstantVUs, Scenario

class Shop(Scenario):
    executor = ConstantVUs(vus=2, duration="{duration}")
    thresholds = {{"http_req_failed{{scenario:shop}}": ["rate<0.01"]}}

    async def iteration(self, vu):
        await vu.http.get("/status/{status}", name="home")
        await vu.sleep(0.05)
"""


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def script(tmp_path: Path, duration: str = "1s", status: int = 200) -> str:
    p = tmp_path / "shop.py"
    p.write_text(SCENARIO.format(duration=duration, status=status))
    return str(p)


@pytest.mark.parametrize("workers", [(), ("--workers", "2")], ids=["one", "workers"])
def test_a_port_in_use_is_104_before_the_run(tmp_path: Path, busy_port: int,
                                             workers: tuple[str, ...]) -> None:
    r = run_cli("run", script(tmp_path, "30s"), "-o", f"prometheus=127.0.0.1:{busy_port}",
                *workers, env={"BASE_URL": "http://127.0.0.1:9"})
    assert r.code == 104, r.text[-2000:]
    assert f"-o prometheus=127.0.0.1:{busy_port}: cannot listen on 127.0.0.1:{busy_port}" \
        in r.err, r.err
    r.assert_clean()
    assert "running (" not in r.err  # refused before the run: no progress, no requests
    assert r.peak_rss_mb < RSS_MB
    assert r.wall_s < START_S


def test_a_bad_address_is_listed_with_every_other_problem(tmp_path: Path) -> None:
    r = run_cli("run", script(tmp_path), "-o", "prometheus=metrics.example:9464",
                "-o", "prometheus=127.0.0.1:99999", "-o", "statsd=x",
                env={"BASE_URL": "http://127.0.0.1:9"})
    assert r.code == 104, r.text[-2000:]
    assert "'metrics.example' is not an IP address" in r.err
    assert "the port must be a number from 0 to 65535" in r.err
    assert "unsupported output 'statsd=x'" in r.err
    r.assert_clean()
    assert r.peak_rss_mb < RSS_MB
    assert r.wall_s < START_S


FRAME_RE = re.compile(r"^running \((\d+\.\d)s\)", re.M)


def test_plain_progress_in_a_log_shows_the_live_figures_once_per_interval(
        tmp_path: Path) -> None:
    with serve() as url:
        r = run_cli("run", script(tmp_path, "3s", status=503), "--progress-interval", "1",
                    "--no-summary", env={"BASE_URL": url})
        quiet = run_cli("run", script(tmp_path, "1s"), "-q", "--no-summary",
                        env={"BASE_URL": url})
    assert r.code == 99, (r.code, r.text[-3000:])  # every request failed: the threshold
    r.assert_clean()
    assert r.peak_rss_mb < RSS_MB
    assert r.wall_s < 3 + START_S
    frames = [f for f in r.err.split("\n\n") if FRAME_RE.search(f)]
    at = [float(FRAME_RE.search(f).group(1)) for f in frames]  # type: ignore[union-attr]
    assert len(at) == 3, r.err
    assert all(abs(a - b) < 0.5 for a, b in zip(at, (1, 2, 3), strict=True)), r.err
    for f in frames[1:]:
        row = f.splitlines()[1]
        assert re.search(r"\d+\.\d req/s  100\.00% failed  p95 \d+\.\d\dms  thresholds ✗ 0/1 "
                         r"\(http_req_failed\{scenario:shop\} rate<0\.01\)", row), row
    assert r.err.count("shop ✓ [100%]") == 1  # the final frame, once
    assert quiet.code == 0, quiet.text[-2000:]
    assert "running (" not in quiet.err and "req/s" not in quiet.err, quiet.err


def test_fleet_progress_in_a_log_has_the_merged_figures(tmp_path: Path) -> None:
    with serve() as url:
        r = run_cli("run", script(tmp_path, "3s", status=503), "--progress-interval", "1",
                    "--no-summary", "--workers", "2", env={"BASE_URL": url})
    assert r.code == 99, r.text[-2000:]
    r.assert_clean()
    assert r.peak_rss_mb < RSS_MB
    assert r.wall_s < 3 + START_S
    frames = [f for f in r.err.split("\n\n") if FRAME_RE.search(f)]
    assert len(frames) >= 3, r.err
    rows = [f.splitlines()[1] for f in frames if "req/s" in f]
    assert rows and all(re.search(r"^shop  \d+\.\d req/s  100\.00% failed  p95 \d+\.\d\dms  "
                                  r"thresholds ", row) for row in rows), rows
    assert "thresholds ✗ 0/1" in rows[-1]


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_a_bad_progress_interval_is_104(tmp_path: Path, value: str) -> None:
    r = run_cli("run", script(tmp_path), "--progress-interval", value,
                env={"BASE_URL": "http://127.0.0.1:9"})
    assert r.code == 104, r.text[-2000:]
    assert "--progress-interval must be" in r.err, r.err
    r.assert_clean()
    assert r.peak_rss_mb < RSS_MB
    assert r.wall_s < START_S


def test_loadgen_http_has_the_same_progress_and_endpoint(tmp_path: Path) -> None:
    with serve() as url:
        r = run_cli("http", "GET", f"{url}/status/200", "--rps", "100", "-d", "2s",
                    "--progress-interval", "1", "-o", "prometheus=127.0.0.1:0")
    assert r.code == 0, r.text[-2000:]
    r.assert_clean()
    assert r.peak_rss_mb < RSS_MB
    assert r.wall_s < 2 + START_S
    assert re.search(r"serving the run's metrics at " + re.escape("http://127.0.0.1:")
                     + r"\d+/metrics", r.err)
    frames = [f for f in r.err.split("\n\n") if FRAME_RE.search(f)]
    assert len(frames) == 2, r.err  # 1 s, then the final frame at 2 s (once)
    m = re.search(r"(\d+\.\d) req/s  0\.00% failed  p95 \d+\.\d\dms", frames[-1])
    assert m is not None and 90 <= float(m.group(1)) <= 100.5, frames  # --rps 100
