"""The catalog's held-socket reconnect loop backs off: a service that drops every socket at
once (or refuses it) sees a few attempts a second per VU, not a reconnect storm."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from wshelpers import RealHarness, free_port

from loadgen.scripting.scenario import load_file

sys.path.insert(0, str(Path(__file__).parents[1] / "hostile"))
import ws_servers  # noqa: E402

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
WINDOW = 1.5  # seconds of reconnecting the test watches


def longevity() -> type[Any]:
    [cls], _ = load_file(SCENARIOS / "websocket_longevity.py")
    return cls


def test_backoff_grows_to_its_cap_with_bounded_jitter() -> None:
    sys.path.insert(0, str(SCENARIOS))
    from common import Backoff

    low, high = Backoff(base=0.5, cap=4.0, rng=lambda: 0.0), Backoff(base=0.5, cap=4.0,
                                                                     rng=lambda: 1.0)
    assert [low.delay() for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert [high.delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    high.reset()
    assert high.delay() == 0.5
    many = Backoff(base=0.1, cap=1.0)  # after very many failures: still the cap, no overflow
    many.failures = 10_000
    assert 0.5 <= many.delay() <= 1.0


async def reconnects(harness: RealHarness, base_url: str) -> int:
    """Iterations of the longevity scenario's loop (one VU) within WINDOW seconds."""
    cls = longevity()
    vu = harness.vu()
    harness.base_url = base_url
    vu.ws.base_url = base_url.replace("http://", "ws://")
    state = cls()
    state.token = "t"  # skip the login: the socket is what is under test
    n, t_end = 0, time.monotonic() + WINDOW
    while time.monotonic() < t_end and n < 10_000:  # bounded either way
        await state.iteration(vu)
        n += 1
    return n


@pytest.fixture
def harness() -> RealHarness:
    return RealHarness("http://127.0.0.1:9")


async def test_a_server_that_drops_every_socket_at_once_is_not_stormed(
        harness: RealHarness) -> None:
    with ws_servers.serving(ws_servers.closes_at_once) as peer:
        n = await reconnects(harness, f"http://127.0.0.1:{peer.port}")
        connections = peer.connections
    # 0.25-0.5 s, then 0.5-1 s, ... : at most 4 sessions in 1.5 s (hundreds without backoff)
    assert 2 <= connections <= 4 and n == connections
    assert harness.total("ws_sessions", close_code="1001") == connections


async def test_a_refusing_server_is_retried_with_backoff(harness: RealHarness) -> None:
    await reconnects(harness, f"http://127.0.0.1:{free_port()}")
    assert 2 <= harness.total("ws_sessions", status="0") <= 4
