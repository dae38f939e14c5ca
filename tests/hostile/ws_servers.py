"""Hostile WebSocket peers on 127.0.0.1 for the hostile catalog (tests/hostile/test_ws_hostile.py).

Each peer breaks the protocol in one precise way a real library would refuse to, so they
speak raw bytes: the handshake by hand, frames by hand. They run on an asyncio loop in a
thread of the test process because the CLI under test is a child process. Every peer
counts its connections so a test can tell "retried" from "gave up".
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def frame(opcode: int, payload: bytes = b"", *, length: int | None = None) -> bytes:
    """One unmasked server frame (FIN set); `length` lies about the payload size."""
    n = len(payload) if length is None else length
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 2**16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


async def handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the client's upgrade request and accept it (RFC 6455 section 4.2.2)."""
    head = await reader.readuntil(b"\r\n\r\n")
    key = b""
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            key = value.strip()
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())  # noqa: S324 - the protocol's
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    await writer.drain()


async def _idle(reader: asyncio.StreamReader) -> None:
    """Hold the connection without answering: read and drop (so a close frame is never
    answered) until the client goes away."""
    while await reader.read(65536):
        pass


async def no_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, then never read again: the client's sends and close frame pile up."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await handshake(reader, writer)
    writer.transport.pause_reading()
    await asyncio.sleep(3600)


def _sends(data: bytes) -> Peer:
    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        writer.write(data)
        await writer.drain()
        await _idle(reader)  # never answers the client's close frame
    return peer


#: a binary frame header announcing 64 MiB (more than loadgen's 32 MiB max_size)
oversized = _sends(frame(0x2, length=64 * 2**20))
#: opcode 3 is reserved (RFC 6455 section 5.2)
bad_opcode = _sends(frame(0x3, b"x"))
#: a text frame that is not UTF-8
bad_utf8 = _sends(frame(0x1, b"\xff\xfe\xfd"))


async def never_handshakes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept TCP, read the upgrade request, never answer it."""
    await _idle(reader)


async def closes_mid_handshake(reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
    """Start the 101 answer, then hang up half-way through its headers."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: webso")
    await writer.drain()


async def closes_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept the upgrade, then close with 1001 straight away (a service shedding load)."""
    await handshake(reader, writer)
    writer.write(frame(0x8, struct.pack("!H", 1001) + b"go away"))
    await writer.drain()


class PeerServer:
    """`peer` served on 127.0.0.1 from a thread; `port`, `connections`, `url`."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.connections = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            try:
                await self.peer(reader, writer)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    asyncio.CancelledError):
                pass  # the peer is done (cancelled: the server is stopping)
            finally:
                tasks.discard(task)
                writer.transport.abort()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        await self._stop.wait()
        server.close()
        for t in list(tasks):
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def __enter__(self) -> PeerServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("peer server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        stop = self._stop
        if stop is not None:
            self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(10)


@contextlib.contextmanager
def serving(peer: Peer) -> Iterator[PeerServer]:
    with PeerServer(peer) as s:
        yield s
