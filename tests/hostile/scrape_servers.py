"""Hostile loopback endpoints for the scrape and signal cases, in a thread of the test process.

Each path misbehaves one way a real /metrics endpoint (or a stalled service) can: never
answer, trickle bytes, send an endless body, a decompression bomb, or many label sets. The
server counts requests per path and sets an event at the first one, so a test can send its
signal exactly while the generator is stuck on a request.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

LABELLED = "".join([
    "# HELP http_requests_total Requests.\n",
    "# TYPE http_requests_total counter\n",
    *(f'http_requests_total{{route="/r{i}",status="200"}} {1000 - i}\n' for i in range(12)),
    *(f'http_requests_created{{route="/r{i}",status="200"}} 1.7e+09\n' for i in range(12)),
    "# TYPE ws_connections gauge\n",
    "ws_connections 7\n",
    "# TYPE queue_depth gauge\n",
    'queue_depth{queue="a"} 3\n',
    'queue_depth{queue="b"} 40\n',
])


@functools.cache
def _gzip_bomb(mib: int) -> bytes:
    """`mib` MiB of zeros, gzip-compressed (about 1/1000 of that on the wire)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(2**20)
    return b"".join([*(c.compress(zeros) for _ in range(mib)), c.flush()])


class HostileServer:
    """Paths: /silent (reads the request, never answers), /trickle (a byte every 200 ms),
    /endless (an unbounded body), /bomb (a gzip body of 256 MiB of zeros), /metrics (many
    label sets, `_created` series and a target `ws_connections`), anything else: 200 "ok"."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.first_hit: dict[str, threading.Event] = {}
        self.port = 0

    def hit_event(self, path: str) -> threading.Event:
        return self.first_hit.setdefault(path, threading.Event())

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            self.hits[path] += 1
            self.hit_event(path).set()
            await self._answer(path, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                asyncio.CancelledError):
            pass  # the client went away, or the server is closing
        finally:
            writer.close()

    async def _answer(self, path: str, w: asyncio.StreamWriter) -> None:
        if path == "/silent":
            await asyncio.sleep(3600)
        elif path == "/trickle":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
            for _ in range(1_000_000):
                w.write(b"#")
                await w.drain()
                await asyncio.sleep(0.2)
        elif path == "/endless":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
            chunk = b"# padding line of an endless exposition\n" * 25_000  # ~1 MiB
            while True:
                w.write(chunk)
                await w.drain()
        elif path == "/bomb":
            bomb = _gzip_bomb(256)
            w.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "
                    + str(len(bomb)).encode() + b"\r\n\r\n" + bomb)
            await w.drain()
        else:
            body = (LABELLED if path == "/metrics" else "ok").encode()
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                    + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
            await w.drain()


@contextmanager
def hostile_server() -> Iterator[HostileServer]:
    """Run a HostileServer on 127.0.0.1 (free port) in a daemon thread for the block."""
    srv = HostileServer()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, asyncio.Server] = {}

    async def start() -> None:
        box["server"] = await asyncio.start_server(srv._handle, "127.0.0.1", 0)
        srv.port = int(box["server"].sockets[0].getsockname()[1])

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        box["server"].close()
        tasks = asyncio.all_tasks(loop)
        for t in tasks:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(box["server"].wait_closed())
        loop.close()

    th = threading.Thread(target=main, daemon=True)
    th.start()
    if not ready.wait(10):
        raise RuntimeError("hostile server did not start")
    try:
        yield srv
    finally:
        loop.call_soon_threadsafe(loop.stop)
        th.join(10)
