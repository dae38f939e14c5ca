"""WSClient against a loopback server: k6's metrics, close codes, bad input, timeouts."""

from __future__ import annotations

import asyncio
import re

import pytest
from wshelpers import RealHarness, free_port

from loadgen.net.ws import WSClosed, WSError, WSTimeout, ws_base


def test_ws_base_follows_the_http_base():
    assert ws_base("http://127.0.0.1:8080/") == "ws://127.0.0.1:8080"
    assert ws_base("https://localhost/api") == "wss://localhost/api"
    assert ws_base("ws://localhost") == "ws://localhost"
    assert ws_base(None) is None


async def test_send_recv_ping_and_k6_session_metrics(harness: RealHarness):
    vu = harness.vu()
    async with await vu.ws.connect("/ws/echo", tags={"wstag": "t"}) as s:
        await s.send("hello")
        await s.send(b"world")
        assert await s.recv(timeout=5) == "hello"
        assert await s.recv(timeout=5) == b"world"
        rtt = await s.ping()
        assert 0 < rtt < 1000
    assert s.close_code == 1000 and not s.open
    url = harness.base_url.replace("http", "ws") + "/ws/echo"
    want = {"group": "", "scenario": "direct", "status": "101", "subproto": "", "url": url,
            "wstag": "t"}
    for name in ("ws_connecting", "ws_msgs_sent", "ws_msgs_received", "ws_ping"):
        [(_, _, tags)] = harness.samples(name)
        assert tags == want, name
    for name in ("ws_sessions", "ws_session_duration"):
        [(t, _, tags)] = harness.samples(name)
        assert tags == {**want, "close_code": "1000"}
        assert t == harness.samples("ws_connecting")[0][0]  # k6: stamped at connect start
    assert harness.total("ws_msgs_sent") == 2 and harness.total("ws_msgs_received") == 2
    assert harness.total("ws_unexpected_disconnects") == 0
    assert vu.bytes_sent > 200 and vu.bytes_received > 150  # handshake + frames


async def test_server_close_1002_shows_in_close_code_tag(harness: RealHarness):
    vu = harness.vu()
    s = await vu.ws.connect("/ws/echo")
    await s.send("close1002")
    got = [m async for m in s]  # ends when the server closes
    assert got == []
    assert s.close_code == 1002
    with pytest.raises(WSClosed, match="not open"):
        await s.send("x")
    await s.close()  # idempotent
    assert harness.total("ws_sessions", close_code="1002") == 1
    assert harness.total("ws_unexpected_disconnects", close_code="1002") == 1
    assert harness.total("ws_errors", error="close 1002") == 1


async def test_recv_raises_wsclosed_with_the_code(harness: RealHarness):
    vu = harness.vu()
    async with await vu.ws.connect("/ws/echo") as s:
        await s.send("close1002")
        with pytest.raises(WSClosed, match="code 1002") as e:
            await s.recv(timeout=5)
        assert e.value.close_code == 1002


async def test_recv_timeout_is_a_clear_timeout_and_the_socket_survives(harness: RealHarness):
    vu = harness.vu()
    async with await vu.ws.connect("/ws/echo") as s:
        expected = re.escape("no message from ws://127.0.0.1:") + r"\d+/ws/echo"
        with pytest.raises(TimeoutError, match=expected):
            await s.recv(timeout=0.05)
        await s.send("still here")
        assert await s.recv(timeout=5) == "still here"
    assert issubclass(WSTimeout, TimeoutError)


@pytest.mark.parametrize(("path", "status", "error", "match"), [
    ("/forbid", 403, "handshake: HTTP 403", r"refused: HTTP 403 Forbidden"),
    ("/plain", 200, "handshake: HTTP 200", r"refused: HTTP 200 OK"),
    ("/nope", 404, "handshake: HTTP 404", r"HTTP 404"),
])
async def test_refused_handshakes_raise_and_are_recorded(harness: RealHarness, path: str,
                                                         status: int, error: str, match: str):
    vu = harness.vu()
    with pytest.raises(WSError, match=match) as e:
        await vu.ws.connect(path)
    assert e.value.status == status and e.value.url.endswith(path)
    [(_, _, tags)] = harness.samples("ws_sessions")
    assert tags["status"] == str(status) and "close_code" not in tags
    assert len(harness.samples("ws_connecting")) == 1
    assert harness.total("ws_errors", error=error) == 1
    assert vu.bytes_received > 0  # k6 counts the refused handshake's bytes too


async def test_unreachable_and_invalid_urls_raise_and_are_recorded(harness: RealHarness):
    vu = harness.vu()
    port = free_port()
    expected = re.escape(f"ws://127.0.0.1:{port}/x") + ".*connection refused"
    with pytest.raises(WSError, match=expected):
        await vu.ws.connect(f"ws://127.0.0.1:{port}/x")
    with pytest.raises(WSError, match="invalid WebSocket URL"):
        await vu.ws.connect("ftp://127.0.0.1/x")
    vu.ws.base_url = None
    with pytest.raises(WSError, match="relative WebSocket URL '/x' but no base URL"):
        await vu.ws.connect("/x")
    statuses = [t["status"] for _, _, t in harness.samples("ws_sessions")]
    assert statuses == ["0", "0", "0"]
    assert harness.total("ws_errors", error="dial: connection refused") == 1
    assert harness.total("ws_errors", error="invalid url") == 2


async def test_throw_false_returns_a_dead_session_like_k6(harness: RealHarness):
    vu = harness.vu()
    s = await vu.ws.connect("/forbid", throw=False)
    assert not s.ok and s.status == 403 and s.error == "handshake: HTTP 403"
    assert [m async for m in s] == []
    with pytest.raises(WSClosed, match="403"):
        await s.send("x")
    await s.close()
    assert harness.total("ws_sessions") == 1  # recorded once, not again at close


async def test_message_errors_in_an_iteration_never_crash_the_run(harness: RealHarness):
    from loadgen import SharedIterations
    from loadgen.scripting.scenario import Scenario

    class BadInput(Scenario):
        async def iteration(self, vu):
            await vu.ws.connect(["/forbid", "/plain", "ftp://x"][vu.iteration % 3])

    out = await harness.run((BadInput, SharedIterations(vus=1, iterations=3)))
    assert out.exit_code == 0
    assert harness.total("iterations") == 3  # an iteration that raised still counts (k6)
    assert sorted(t["status"] for _, _, t in harness.samples("ws_sessions")) == ["0", "200",
                                                                                "403"]
    assert harness.engine.runtimes[0].failed == 3


async def test_backpressure_surfaces_as_send_wait_not_memory(harness: RealHarness):
    vu = harness.vu()
    blob = bytes(1 << 20)
    async with await vu.ws.connect("/ws/sink?hold=1.0", write_limit=2**16) as s:
        loop = asyncio.get_running_loop()
        t_end = loop.time() + 5
        for _ in range(64):  # bounded: at most 64 MiB offered
            await s.send(blob)
            if max(harness.values("ws_send_wait"), default=0) > 50 or loop.time() > t_end:
                break
    waits = harness.values("ws_send_wait")
    assert waits and max(waits) > 50  # ms blocked while the server did not read


async def test_unread_messages_show_as_queue_depth_bounded_by_max_queue(harness: RealHarness):
    vu = harness.vu()
    async with await vu.ws.connect("/ws/flood?n=300&size=1024", max_queue=16) as s:
        await asyncio.sleep(0.3)  # the server sent 300; we read none
        s.flush()
        depth = harness.values("ws_queue_depth")
        # reading pauses at the high-water mark (plus the frames of the last socket read)
        assert depth and 16 <= depth[-1] < 100
        got = [await s.recv(timeout=5) for _ in range(300)]
        assert len(got) == 300
        s.flush()
    assert harness.values("ws_queue_depth")[-1] == 0
    assert harness.total("ws_msgs_received") == 300
