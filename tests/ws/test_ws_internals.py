"""The websockets internals loadgen relies on (net/ws/internals.py) still exist on a real
connection. A websockets release that moves one fails here, naming it, instead of as a wrong
metric or a crash mid-run; pyproject.toml pins the range this passed on."""

from __future__ import annotations

from wshelpers import RealHarness

from loadgen.net.ws import internals
from loadgen.net.ws.fast import FastConnection


async def test_every_internal_exists_on_a_real_connection(harness: RealHarness):
    vu = harness.vu()  # compression is what still takes the websockets client
    async with await vu.ws.connect("/ws/echo", compression="deflate") as s:
        conn = s.conn
        assert isinstance(conn, internals.CountingConnection)
        assert internals.missing(conn) == []
        assert internals.is_open(conn) and not internals.is_closed(conn)
        assert internals.send_now(conn, "ping me")  # the fast path is taken on an idle socket
        assert await s.recv(timeout=5) == "ping me"
        assert internals.queue_depth(conn) == 0
        assert conn.n_out > 0 and conn.n_in > 0  # the byte counting hooks ran
    assert internals.is_closed(conn)


async def test_the_default_connection_is_the_fast_one(harness: RealHarness):
    """Without compression a session runs on picows (fast.py), through the same methods."""
    async with await harness.vu().ws.connect("/ws/echo") as s:
        conn = s.conn
        assert isinstance(conn, FastConnection)
        assert conn.is_open() and not conn.is_closed()
        assert conn.send_now("ping me")
        assert await s.recv(timeout=5) == "ping me"
        assert conn.queue_depth() == 0 and conn.failed_with() is None
        assert conn.n_out > 150 and conn.n_in > 100  # the handshake is counted too
    assert conn.is_closed() and s.close_code == 1000


def test_missing_names_what_is_gone():
    class Bare:
        pass

    assert internals.missing(Bare()) == [path for path, _ in internals.INTERNALS]  # type: ignore[arg-type]
