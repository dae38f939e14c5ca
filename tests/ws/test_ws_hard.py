"""WebSocket sessions against peers that misbehave: every wait has a deadline, protocol errors
keep the close code loadgen sent, `connect()` is awaitable and an async context manager,
and no URL password is ever printed or tagged."""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys
import time
from pathlib import Path

import pytest
from urls import with_user
from websockets.asyncio.server import ServerConnection, serve
from wshelpers import RealHarness, free_port

from loadgen.executors import SharedIterations
from loadgen.net.redact import redact, strip_credentials
from loadgen.net.ws import WSClosed, WSError, WSSession
from loadgen.scripting.scenario import Scenario

sys.path.insert(0, str(Path(__file__).parents[1] / "hostile"))
sys.path.insert(0, str(Path(__file__).parents[1] / "net"))
import ws_servers  # noqa: E402
from net_helpers import make_cert  # noqa: E402

BIG = b"x" * (4 * 2**20)  # several times what the peer's socket buffers take


@pytest.fixture
def harness() -> RealHarness:
    return RealHarness("http://127.0.0.1:9")  # never contacted: every URL here is absolute


async def flood(s: WSSession) -> None:
    for _ in range(8):  # bounded: the peer's buffers stop the loop long before
        await asyncio.wait_for(s.send(BIG), 5)


# -- 1. deadlines -----------------------------------------------------------------------------
async def test_close_to_a_peer_that_does_not_read_ends_and_is_recorded(
        harness: RealHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("loadgen.net.ws.session.CLOSE_TIMEOUT", 0.3)
    with ws_servers.serving(ws_servers.no_read) as peer:
        s = await harness.vu().ws.connect(peer.url)
        await s.send(BIG)  # fills the buffers: the close frame queues behind it
        t0 = time.monotonic()
        await asyncio.wait_for(s.close(), 5)  # hung forever before
        assert time.monotonic() - t0 < 1.5
    assert not s.open and s.close_code == 1006
    assert harness.total("ws_errors", error="close timeout") == 1
    assert harness.total("ws_sessions", close_code="1006") == 1


async def test_an_interrupted_iteration_closes_within_half_a_second(
        harness: RealHarness) -> None:
    with ws_servers.serving(ws_servers.no_read) as peer:
        s = await harness.vu().ws.connect(peer.url)
        await s.send(BIG)

        async def iteration() -> None:
            async with s:  # the graceful stop cancels the body; the close still runs
                await asyncio.sleep(30)

        task = asyncio.ensure_future(iteration())
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        assert time.monotonic() - t0 < 1.0  # not the 3 s of an ordinary close
    assert harness.total("ws_errors", error="close timeout") == 1


async def test_send_to_a_peer_that_does_not_read_times_out(harness: RealHarness) -> None:
    with ws_servers.serving(ws_servers.no_read) as peer:
        s = await harness.vu().ws.connect(peer.url, send_timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(WSClosed, match="read nothing for 0.3 s") as e:
            await flood(s)
        assert time.monotonic() - t0 < 2
    assert e.value.error == "send timeout" and not s.open
    assert harness.total("ws_errors", error="send timeout") == 1
    assert harness.total("ws_unexpected_disconnects") == 0  # loadgen ended it, not the peer
    await asyncio.wait_for(s.close(), 1)  # already over: returns at once


async def test_an_interrupted_handshake_is_recorded(harness: RealHarness) -> None:
    with ws_servers.serving(ws_servers.never_handshakes) as peer:
        task = asyncio.ensure_future(harness.vu().ws.connect(peer.url, timeout=30))
        await asyncio.sleep(0.3)  # what a graceful stop does to a VU stuck in connect
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert harness.total("ws_errors", error="connect interrupted", status="0") == 1


# -- 2. protocol errors keep loadgen's close code ----------------------------------------------
PROTOCOL = [(ws_servers.oversized, 1009, "message too big"),
            (ws_servers.bad_opcode, 1002, "protocol error"),
            (ws_servers.bad_utf8, 1007, "invalid data")]


@pytest.mark.parametrize(("peer_fn", "code", "name"), PROTOCOL, ids=["1009", "1002", "1007"])
async def test_protocol_error_records_the_close_code_loadgen_sent(
        harness: RealHarness, monkeypatch: pytest.MonkeyPatch, peer_fn: ws_servers.Peer,
        code: int, name: str) -> None:
    monkeypatch.setattr("loadgen.net.ws.session.CLOSE_TIMEOUT", 0.3)
    monkeypatch.setattr("loadgen.net.ws.client.CLOSE_TIMEOUT", 0.3)  # the peer never answers
    with ws_servers.serving(peer_fn) as peer:
        s = await harness.vu().ws.connect(peer.url)
        with pytest.raises(WSClosed, match=f"code {code} \\({name}\\)") as e:
            await asyncio.wait_for(s.recv(), 10)
        await s.close()
    assert e.value.close_code == code == s.close_code
    assert e.value.error == f"close {code} ({name})"  # the same words as the ws_errors tag
    assert harness.total("ws_sessions", close_code=str(code)) == 1
    assert harness.total("ws_errors", error=f"close {code} ({name})") == 1
    assert harness.total("ws_unexpected_disconnects", close_code=str(code)) == 1


async def test_a_server_closing_mid_handshake_is_named_as_such(harness: RealHarness) -> None:
    with (ws_servers.serving(ws_servers.closes_mid_handshake) as peer,
          pytest.raises(WSError, match="closed the connection during the handshake") as e):
        await harness.vu().ws.connect(peer.url, timeout=5)
    assert e.value.error == "handshake: unexpected EOF"  # was "not a WebSocket endpoint"
    assert harness.total("ws_errors", error="handshake: unexpected EOF") == 1


# -- 3. connect() as an async context manager ---------------------------------------------------
async def echo(ws: ServerConnection) -> None:
    async for m in ws:
        await ws.send(m)


async def test_connect_is_an_async_context_manager_that_closes(harness: RealHarness) -> None:
    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        vu = harness.vu()
        async with vu.ws.connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("hi")
            assert await ws.recv(timeout=5) == "hi"
            assert ws.open
        assert not ws.open and ws.close_code == 1000
        ws2 = await vu.ws.connect(f"ws://127.0.0.1:{port}/")  # still awaitable
        await ws2.close()
    assert harness.total("ws_sessions", close_code="1000") == 2
    assert harness.total("ws_unexpected_disconnects") == 0


async def test_an_unawaited_connect_opens_nothing_and_says_so(harness: RealHarness) -> None:
    vu = harness.vu()
    ws = vu.ws.connect("ws://127.0.0.1:9/")  # no warning (filterwarnings=error), no socket
    with pytest.raises(AttributeError, match="was not awaited; write `ws = await"):
        ws.send  # noqa: B018 - the attribute access is what is under test
    assert harness.samples("ws_connecting") == []


# -- 4. secrets ---------------------------------------------------------------------------------
def test_redact_masks_every_url_password() -> None:
    nobody = with_user("ws://127.0.0.1/", "nobody", None)
    text = (f"WebSocket {with_user('ws://127.0.0.1:1/x', 'bob', 's3cr%40t')} failed; see "
            f"{with_user('https://127.0.0.2/a', 'u', 'p')}?b=c@d and {nobody} mail@example")
    assert redact(text) == (f"WebSocket {with_user('ws://127.0.0.1:1/x', 'bob', '***')} failed; "
                            f"see {with_user('https://127.0.0.2/a', 'u', '***')}?b=c@d and "
                            f"{nobody} mail@example")
    assert strip_credentials(with_user("ws://127.0.0.1:5/p", "bob", "pw")) == \
        "ws://127.0.0.1:5/p"


async def test_a_ws_password_never_reaches_errors_tags_or_logs(
        harness: RealHarness, caplog: pytest.LogCaptureFixture) -> None:
    url = with_user(f"ws://127.0.0.1:{free_port()}/", "bob", "hunter2")  # refused

    class Leaky(Scenario):
        async def iteration(self, vu):  # type: ignore[no-untyped-def]
            await vu.ws.connect(url)

    with pytest.raises(WSError) as e:
        await harness.vu().ws.connect(url)
    assert "hunter2" not in str(e.value) and "bob:***@" in str(e.value)
    with caplog.at_level(logging.ERROR, logger="loadgen"):
        await harness.run((Leaky, SharedIterations(vus=1, iterations=1)))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "iteration raised WSError" in logged and "bob:***@" in logged
    assert "hunter2" not in logged
    tags = [t for _, _, t in harness.samples("ws_connecting") + harness.samples("ws_errors")]
    assert tags and all("hunter2" not in v and "bob" not in v for t in tags for v in t.values())


# -- 5. --insecure-skip-tls-verify reaches wss:// ----------------------------------------------
async def test_insecure_skip_tls_verify_applies_to_wss(harness: RealHarness,
                                                      tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    async with serve(echo, "127.0.0.1", 0, ssl=ctx) as server:
        url = f"wss://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        with pytest.raises(WSError, match="x509: unknown authority"):
            await harness.vu().ws.connect(url, timeout=5)
        harness.run_ctx.insecure = True  # what `run --insecure-skip-tls-verify` sets
        async with harness.vu("insecure").ws.connect(url, timeout=5) as ws:
            await ws.send("over tls")
            assert await ws.recv(timeout=5) == "over tls"
    assert harness.total("ws_sessions", close_code="1000") == 1
