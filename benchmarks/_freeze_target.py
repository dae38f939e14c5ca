"""A loopback HTTP target that answers at once, except during one freeze window.

    python benchmarks/_freeze_target.py --port P [--at 3] [--for 1]

The window is timed from the first request it receives (the fleet's T0, give or take the
connect), so the benchmark needs no shared clock with the generator. A request that arrives
inside [first + at, first + at + for) is answered when the window ends; every other one at
once (on a connection, answers keep their order). Prints `ready` on stdout once listening;
exits on SIGTERM or when stdin closes, so a killed benchmark leaves no server behind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

HOST = "127.0.0.1"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
MAX_HEADER = 64 * 1024  # a request head bigger than this closes the connection


class Freeze:
    def __init__(self, at: float, length: float) -> None:
        self.at, self.length = at, length
        self.first: float | None = None

    def answer_at(self, now: float) -> float:
        """When a request that arrived at `now` is answered."""
        if self.first is None:
            self.first = now
        start = self.first + self.at
        return start + self.length if start <= now < start + self.length else now


class Conn(asyncio.Protocol):
    def __init__(self, freeze: Freeze) -> None:
        self.freeze = freeze
        self.buf = b""
        self.not_before = 0.0  # answers on one connection stay in order
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        loop = asyncio.get_running_loop()
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:  # GETs only: no bodies
            self.buf = self.buf[end + 4:]
            when = max(self.freeze.answer_at(loop.time()), self.not_before)
            self.not_before = when
            loop.call_at(when, self._send)
        if len(self.buf) > MAX_HEADER and self.transport is not None:
            self.transport.close()

    def _send(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(RESPONSE)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--at", type=float, default=3.0)
    ap.add_argument("--for", dest="length", type=float, default=1.0)
    args = ap.parse_args()
    loop = asyncio.get_running_loop()
    freeze = Freeze(args.at, args.length)
    server = await loop.create_server(lambda: Conn(freeze), HOST, args.port, backlog=4096)
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    fd = sys.stdin.fileno()
    loop.add_reader(fd, lambda: done.set() if not os.read(fd, 4096) else None)
    print("ready", flush=True)
    await done.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
