"""Live outputs through the real CLI: `--out prometheus=` that cannot bind is a 104 before
anything runs (alone, beside other problems, under --workers), and the plain progress lines
a CI log gets (not a terminal) carry the live figures, every --progress-interval, once.

Each case asserts the exit code, the message, no traceback, a bounded peak RSS and an end
within the run's length plus a margin."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_run import run_cli

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
