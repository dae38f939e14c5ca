"""Hostile HTTP servers for the transport limits: raw asyncio sockets on 127.0.0.1 (and
127.0.0.2 as "another host"), in a thread of their own so a child-process CLI can load them.

Each path is one kind of bad behaviour a real framework would refuse to produce: an endless
body, a decompression bomb, a flood of `102 Processing`, a redirect that carries credentials
to another host, a body longer than its Content-Length, a header block of 50k lines or of
one 1 MiB line, a redirect loop. Everything is bounded: a stream stops at its byte budget
or when the client goes away; a flood at 100,000 heads.
"""

from __future__ import annotations

import asyncio
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

STREAM_BYTES = 10 * 2**30  # the "10 GB" streamed body (the client gives up long before)
BOMB_INFLATED = 2**30  # a gzip bomb of ~1 MiB that inflates to 1 GiB
_CHUNK = b"x" * 2**16
_bomb: bytes | None = None


def gzip_bomb() -> bytes:
    """1 GiB of zeros, gzip-compressed (~1 MiB), made once per process."""
    global _bomb
    if _bomb is None:
        z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        zeros = bytes(2**20)
        parts = [z.compress(zeros) for _ in range(BOMB_INFLATED // len(zeros))]
        parts.append(z.flush())
        _bomb = b"".join(parts)
    return _bomb


@dataclass
class Hostile:
    """The servers and what they saw: `seen[host]` lists request heads (lower-cased)."""

    port1: int = 0
    port2: int = 0
    seen: dict[str, list[bytes]] = field(default_factory=lambda: {"1": [], "2": []})

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port1}"

    @property
    def other(self) -> str:
        return f"http://127.0.0.2:{self.port2}"


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _route(h: Hostile, which: str, path: str, w: asyncio.StreamWriter) -> bool:
    """Answer one request; True when the connection may carry another."""
    if path == "/stream":
        w.write(_head("200 OK", [("Transfer-Encoding", "chunked")]))
        chunk = b"%x\r\n%s\r\n" % (len(_CHUNK), _CHUNK)
        for _ in range(STREAM_BYTES // len(_CHUNK)):
            w.write(chunk)
            await w.drain()
        return False
    if path == "/bomb":
        body = gzip_bomb()
        w.write(_head("200 OK", [("Content-Encoding", "gzip"),
                                 ("Content-Length", str(len(body)))]) + body)
    elif path == "/flood":
        for _ in range(100_000):
            w.write(b"HTTP/1.1 102 Processing\r\n\r\n" * 10)
            await w.drain()
        return False
    elif path == "/cross":
        w.write(_head("302 Found", [("Location", f"{h.other}/landing"),
                                    ("Content-Length", "0")]))
    elif path == "/downgrade":  # same host, other port: only the port differs
        w.write(_head("302 Found", [("Location", f"http://127.0.0.1:{h.port2}/landing"),
                                    ("Content-Length", "0")]))
    elif path == "/short-cl":
        w.write(_head("200 OK", [("Content-Length", "5")]) + b"hello" + b"Z" * 100)
        return False
    elif path == "/many-headers":
        w.write(_head("200 OK", [(f"X-H{i}", "v") for i in range(50_000)]
                      + [("Content-Length", "2")]) + b"ok")
    elif path == "/big-header":
        w.write(_head("200 OK", [("X-Big", "a" * 2**20), ("Content-Length", "2")]) + b"ok")
    elif path == "/loop":
        w.write(_head("302 Found", [("Location", "/loop"), ("Content-Length", "0")]))
    else:
        w.write(_head("200 OK", [("Content-Length", "2")]) + b"ok")
    await w.drain()
    return True


async def _serve(h: Hostile, which: str, r: asyncio.StreamReader,
                 w: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
            h.seen[which].append(head.lower())
            path = head.split(b" ", 2)[1].decode()
            if not await _route(h, which, path, w):
                break
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
            TimeoutError, IndexError):
        pass
    finally:
        with suppress(Exception):
            w.close()


@contextmanager
def hostile_servers() -> Iterator[Hostile]:
    """Start both servers in a daemon thread; stop them on exit."""
    h = Hostile()
    gzip_bomb()
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    servers: list[asyncio.Server] = []

    async def start() -> None:
        for which, host in (("1", "127.0.0.1"), ("2", "127.0.0.2")):
            srv = await asyncio.start_server(
                lambda r, w, which=which: _serve(h, which, r, w), host, 0)
            servers.append(srv)
            setattr(h, f"port{which}", srv.sockets[0].getsockname()[1])
        ready.set()

    def run() -> None:
        loop.run_until_complete(start())
        loop.run_forever()
        for srv in servers:
            loop.run_until_complete(srv.wait_closed())
        pending = asyncio.all_tasks(loop)
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    if not ready.wait(10):
        raise RuntimeError("hostile servers did not start")
    try:
        yield h
    finally:
        def stop() -> None:
            for s in servers:
                s.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.stop()
        loop.call_soon_threadsafe(stop)
        t.join(10)
