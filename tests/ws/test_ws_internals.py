"""The websockets internals loadgen relies on (net/ws/internals.py) still exist on a real
connection. A websockets release that moves one fails here, naming it, instead of as a wrong
metric or a crash mid-run; pyproject.toml pins the range this passed on."""

from __future__ import annotations

from wshelpers import RealHarness

from loadgen.net.ws import internals


async def test_every_internal_exists_on_a_real_connection(harness: RealHarness):
    vu = harness.vu()
    async with await vu.ws.connect("/ws/echo") as s:
        conn = s.conn
        assert isinstance(conn, internals.CountingConnection)
        assert internals.missing(conn) == []
        assert internals.is_open(conn) and not internals.is_closed(conn)
        assert internals.send_now(conn, "ping me")  # the fast path is taken on an idle socket
        assert await s.recv(timeout=5) == "ping me"
        assert internals.queue_depth(conn) == 0
        assert conn.n_out > 0 and conn.n_in > 0  # the byte counting hooks ran
    assert internals.is_closed(conn)


def test_missing_names_what_is_gone():
    class Bare:
        pass

    assert internals.missing(Bare()) == [path for path, _ in internals.INTERNALS]  # type: ignore[arg-type]
