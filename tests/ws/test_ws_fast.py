"""The picows data path (net/ws/fast.py): what it adds on top of picows' frames (fragments
joined, their size capped, their text checked) and what it is for (few Python calls per
message). Peers speak raw frames from a thread (tests/hostile/ws_servers.py)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
import sys
from pathlib import Path
from types import FrameType

import pytest
from urls import with_user
from websockets.exceptions import ConcurrencyError
from wshelpers import RealHarness

from loadgen.net.ws import WSClosed, WSError, WSTimeout
from loadgen.net.ws.fast import FastConnection

sys.path.insert(0, str(Path(__file__).parents[1] / "hostile"))
import ws_servers  # noqa: E402


def frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """One unmasked server frame (short payloads only)."""
    assert len(payload) < 126
    return struct.pack("!BB", (0x80 if fin else 0) | opcode, len(payload)) + payload


def sends(data: bytes) -> ws_servers.Peer:
    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await ws_servers.handshake(reader, writer)
        writer.write(data)
        await writer.drain()
        await ws_servers._idle(reader)
    return peer


async def echo_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo every masked client frame back unmasked until the client's close."""
    await ws_servers.handshake(reader, writer)
    while True:
        b1, b2 = await reader.readexactly(2)
        n = b2 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await reader.readexactly(2))
        mask = await reader.readexactly(4)
        data = bytes(c ^ mask[i % 4] for i, c in enumerate(await reader.readexactly(n)))
        writer.write(ws_servers.frame(b1 & 0x0F, data))
        if b1 & 0x0F == 0x8:
            await writer.drain()
            return


#: where the client's per-message code lives (loadgen's, and the WebSocket libraries')
OURS = ("/loadgen/", "/websockets/", "/picows/")


async def says_who(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, then send the request's Authorization and Host headers back as a text
    message."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    fields = {k.strip().lower(): v.strip() for k, _, v in
              (line.partition(":") for line in head.split("\r\n")[1:] if line)}
    key = fields["sec-websocket-key"].encode()
    accept = base64.b64encode(hashlib.sha1(key + ws_servers.GUID).digest())  # noqa: S324
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                 + frame(0x1, f'{fields.get("authorization")} {fields["host"]}'.encode()))
    await writer.drain()
    await ws_servers._idle(reader)


@pytest.fixture
def harness() -> RealHarness:
    return RealHarness("http://127.0.0.1:9")  # never contacted: every URL here is absolute


async def test_fragmented_messages_are_joined(harness: RealHarness) -> None:
    data = (frame(0x1, b"hel", fin=False) + frame(0x0, b"lo w", fin=False)
            + frame(0x0, "\u00f6rld".encode()) + frame(0x2, b"\x00\x01", fin=False)
            + frame(0x9, b"mid-message ping") + frame(0x0, b"\x02"))
    with ws_servers.serving(sends(data)) as peer:
        s = await harness.vu().ws.connect(peer.url)
        assert await s.recv(timeout=5) == "hello w\u00f6rld"
        assert await s.recv(timeout=5) == b"\x00\x01\x02"
        s.conn.abort()  # type: ignore[union-attr]  # the peer never answers a close
        await s.close()


@pytest.mark.parametrize(("data", "code", "name"), [
    # every fragment is within max_size=10, the message is not
    (frame(0x2, b"x" * 8, fin=False) + frame(0x0, b"y" * 8), 1009, "message too big"),
    # "\u00f6" split across two fragments is fine; a lone continuation byte is not UTF-8
    (frame(0x1, b"\xc3", fin=False) + frame(0x0, b"\xb6\xb6"), 1007, "invalid data"),
    (frame(0x0, b"no start"), 1002, "protocol error"),
], ids=["joined-1009", "joined-1007", "stray-continuation-1002"])
async def test_a_bad_fragmented_message_fails_with_loadgens_close_code(
        harness: RealHarness, monkeypatch: pytest.MonkeyPatch, data: bytes, code: int,
        name: str) -> None:
    monkeypatch.setattr("loadgen.net.ws.session.CLOSE_TIMEOUT", 0.3)
    monkeypatch.setattr("loadgen.net.ws.client.CLOSE_TIMEOUT", 0.3)  # the peer never answers
    with ws_servers.serving(sends(data)) as peer:
        s = await harness.vu().ws.connect(peer.url, max_size=10)
        with pytest.raises(WSClosed, match=f"code {code} \\({name}\\)"):
            await asyncio.wait_for(s.recv(), 10)
        await s.close()
    assert s.close_code == code
    assert harness.total("ws_errors", error=f"close {code} ({name})") == 1


async def test_url_credentials_become_basic_auth(harness: RealHarness) -> None:
    """As websockets did (and k6's dialer does): user:password in the URL is sent as HTTP
    Basic auth, percent-decoded, and kept out of the Host header."""
    with ws_servers.serving(says_who) as peer:
        url = with_user(peer.url, "bob", "s3cr%40t")
        s = await harness.vu().ws.connect(url)
        want = "Basic " + base64.b64encode(b"bob:s3cr@t").decode()
        assert await s.recv(timeout=5) == f"{want} 127.0.0.1:{peer.port}"
        s.conn.abort()  # type: ignore[union-attr]  # the peer never answers a close
        await s.close()


async def bad_accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A 101 whose Sec-WebSocket-Accept is wrong: not a WebSocket server we can trust."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n")
    await writer.drain()
    await ws_servers._idle(reader)


async def test_a_101_with_a_wrong_accept_is_a_bad_handshake_not_a_refusal(
        harness: RealHarness) -> None:
    with (ws_servers.serving(bad_accept) as peer,
          pytest.raises(WSError, match="bad handshake") as e):
        await harness.vu().ws.connect(peer.url, timeout=5)
    assert e.value.error == "handshake: not a WebSocket endpoint"


async def test_a_private_close_code_from_the_peer_is_echoed_and_kept(
        harness: RealHarness) -> None:
    with ws_servers.serving(sends(frame(0x8, struct.pack("!H", 4001) + b"bye"))) as peer:
        s = await harness.vu().ws.connect(peer.url)
        with pytest.raises(WSClosed, match="code 4001 'bye'"):
            await s.recv(timeout=5)
        s.conn.abort()  # type: ignore[union-attr]  # the peer never ends TCP
        await s.close()
    assert s.close_code == 4001
    assert harness.total("ws_sessions", close_code="4001") == 1


async def test_one_reader_at_a_time_and_a_timed_out_recv_leaves_none(
        harness: RealHarness) -> None:
    """A second concurrent recv() would have stolen the first one's wake-up (it then waits
    forever); websockets refuses it, so does the picows path. A recv() that timed out is
    no reader any more."""
    with ws_servers.serving(echo_peer) as peer:
        async with harness.vu().ws.connect(peer.url) as s:
            with pytest.raises(WSTimeout):
                await s.recv(timeout=0.05)
            first = asyncio.ensure_future(s.recv(timeout=5))
            await asyncio.sleep(0.01)
            with pytest.raises(ConcurrencyError):
                await s.recv(timeout=5)
            await s.send("for the first")
            assert await first == "for the first"


async def test_an_echoed_message_costs_few_python_calls(harness: RealHarness) -> None:
    """What the fast path is for: on websockets a send + recv ran 52 Python functions of the
    client; counted with a profile hook (deterministic, unlike CPU time on a shared machine;
    the event loop's own calls are left out: the test loop is not uvloop)."""
    with ws_servers.serving(echo_peer) as peer:
        async with harness.vu().ws.connect(peer.url) as s:
            assert isinstance(s.conn, FastConnection)
            await s.send("warm-up")
            await s.recv(timeout=5)
            calls = 0

            def count(frame: FrameType, event: str, _arg: object) -> None:
                nonlocal calls
                if event == "call" and any(p in frame.f_code.co_filename for p in OURS):
                    calls += 1

            n = 200
            async with asyncio.timeout(10):
                sys.setprofile(count)
                try:
                    for _ in range(n):
                        await s.send("x" * 32)
                        await s.recv()
                finally:
                    sys.setprofile(None)
    per_msg = calls / n
    assert per_msg < 20, f"{per_msg:.1f} Python calls per echoed message"
