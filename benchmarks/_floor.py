"""The floor under any Python asyncio HTTP client: the least a request can cost on this machine.

    python benchmarks/_floor.py callback|coroutine URL CONNS SECONDS

It exists so bench_http.py's table can separate the floor from loadgen's own engine. What any
Python asyncio client pays per request here is the kernel (a send, a receive, loopback TCP),
uvloop's event loop, llhttp (through httptools) parsing the response, and, as soon as code
awaits a response, one future per request. This client pays exactly that and nothing else: no
tasks per iteration, no records, checks, tags or metrics. The gap between its row and loadgen's
is what loadgen's engine costs.

* `callback`: CONNS keep-alive connections; the next GET is written from the parser's
  on_message_complete (no futures, no coroutines): the kernel + uvloop + llhttp floor.
* `coroutine`: the same protocol, but one task per connection loops (new future, write,
  await the future that on_message_complete resolves, count): the floor plus the one future
  (and task wake-up) per request that any awaiting client pays.

Runs for SECONDS (from the moment every connection is up), lets the requests in flight finish
(bounded), and prints one JSON line: {"requests": n, "seconds": elapsed, "failures": f}.
Responses other than 200, parse errors and dropped connections are failures; any failure (or
no response at all) makes the exit status 1. Only http://127.0.0.1 is accepted; every wait is
bounded.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import httptools
import uvloop

CONNECT_TIMEOUT = 5.0
DRAIN_TIMEOUT = 5.0  # for the requests in flight at the deadline


class Broken(Exception):
    """A connection's failure, counted where it happened."""


class Floor:
    """What the connections share: the stop flag and the counts."""

    def __init__(self) -> None:
        self.stopping = False
        self.requests = 0
        self.failures = 0


class Conn(asyncio.Protocol):
    def __init__(self, floor: Floor, request: bytes, callback: bool) -> None:
        self.floor = floor
        self.request = request
        self.callback = callback
        self.parser = httptools.HttpResponseParser(self)
        self.transport: Any = None  # uvloop's TCPTransport (no asyncio.Transport subclass)
        #: coroutine mode: the response awaited; callback mode: set when the connection is
        #: idle after the deadline (both: set when the connection is lost)
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False
        self.failed = False  # counted already (a bad response closes the connection)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.floor.failures += 1
            self.failed = True
            self._fail(Broken("unparsable response"))

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if not self.callback:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(status)
            return
        if self.floor.stopping:  # the deadline passed while this one was in flight
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(0)
            return
        if status == 200:
            self.floor.requests += 1
        else:
            self.floor.failures += 1
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.floor.stopping and not self.failed:
            self.floor.failures += 1
        self._fail(Broken("connection lost"))

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None and not self.closed:
            self.transport.close()


async def loop_requests(conn: Conn, floor: Floor) -> None:
    """coroutine mode: one request at a time on `conn` until the deadline."""
    loop = asyncio.get_running_loop()
    while not floor.stopping and not conn.closed:
        conn.waiter = loop.create_future()
        conn.transport.write(conn.request)
        status = await conn.waiter
        if floor.stopping:
            break
        if status == 200:
            floor.requests += 1
        else:
            floor.failures += 1


async def main(mode: str, url: str, conns: int, seconds: float) -> int:
    u = urlsplit(url)
    if u.scheme != "http" or u.hostname != "127.0.0.1" or u.port is None:
        print(f"only http://127.0.0.1:PORT/ URLs, not {url!r}", file=sys.stderr)
        return 2
    path = (u.path or "/") + (f"?{u.query}" if u.query else "")
    request = (f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\n"
               "User-Agent: loadgen-floor\r\n\r\n").encode()
    callback = mode == "callback"
    floor = Floor()
    loop = asyncio.get_running_loop()
    made = await asyncio.wait_for(
        asyncio.gather(*(loop.create_connection(lambda: Conn(floor, request, callback),
                                                "127.0.0.1", u.port) for _ in range(conns))),
        CONNECT_TIMEOUT)
    protos = [p for _, p in made]
    t0 = time.monotonic()
    if callback:
        waits: list[asyncio.Future[Any]] = []
        for c in protos:
            c.waiter = loop.create_future()
            waits.append(c.waiter)
            c.transport.write(request)
    else:
        waits = [asyncio.create_task(loop_requests(c, floor)) for c in protos]
    await asyncio.sleep(seconds)
    floor.stopping = True
    elapsed = time.monotonic() - t0
    done, pending = await asyncio.wait(waits, timeout=DRAIN_TIMEOUT)
    for w in pending:
        w.cancel()
    for w in done:
        exc = w.exception()  # retrieved, so asyncio does not log it again
        if exc is not None and not isinstance(exc, Broken):  # a bug, not the target
            floor.failures += 1
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    for c in protos:
        if c.transport is not None and not c.closed:
            c.transport.close()
    await asyncio.sleep(0)  # let the transports close
    print(json.dumps({"requests": floor.requests, "seconds": round(elapsed, 6),
                      "failures": floor.failures}), flush=True)
    if floor.failures or not floor.requests:
        print(f"{floor.failures} failed responses or connections, {floor.requests} good",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] not in ("callback", "coroutine"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        sys.exit(runner.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                 float(sys.argv[4]))))
