"""One WebSocket session: send, recv, ping, hold, close, with counters flushed cheaply."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from loadgen.clock import wait_first
from loadgen.metrics.model import TagSet, merge_tags
from loadgen.net.meter import Meter
from loadgen.net.ws.conn import (
    CLOSE_TIMEOUT,
    FAIL_CODES,
    FLUSH_NS,
    INTERRUPTED_CLOSE,
    NORMAL_CLOSES,
    SEND_TIMEOUT,
    WSClosed,
    WSMetrics,
    WSTimeout,
)
from loadgen.net.ws.core import SENT
from loadgen.net.ws.fast import FastConnection

if TYPE_CHECKING:
    from loadgen.net.ws.internals import CountingConnection

    Conn = CountingConnection | FastConnection  # the websockets one only for compression


def _close_deadline() -> float:
    """Seconds a close may take: less once the calling task is being cancelled (an
    `async with` or `finally` closing after the graceful stop ran out), so an interrupted
    iteration does not stretch the run by a full close timeout."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        return INTERRUPTED_CLOSE
    return CLOSE_TIMEOUT + 1.0


class WSSession:
    """One WebSocket session: send/recv/ping/close, `async for`, `async with`, `hold()`.

    It records through its client's meter and metric handles, and leaves the client's set of
    live sessions (`live`) when it ends."""

    __slots__ = ("meter", "m", "live", "conn", "url", "tags", "t0", "status", "subprotocol",
                 "error", "close_code", "send_timeout", "_closing", "_ended", "_n_sent",
                 "n_recv", "_b_out", "_b_in", "next_flush", "_depth", "_now",
                 "__weakref__")

    def __init__(self, meter: Meter, m: WSMetrics, live: set[WSSession],
                 conn: Conn | None, url: str, tags: TagSet, t0: int,
                 status: int, subprotocol: str, error: str,
                 send_timeout: float | None = SEND_TIMEOUT) -> None:
        self.meter, self.m, self.live = meter, m, live
        self.conn, self.url, self.tags, self.t0 = conn, url, tags, t0
        self.status, self.subprotocol, self.error = status, subprotocol, error
        self.close_code: int | None = None
        self.send_timeout = send_timeout
        self._closing = self._ended = False
        self._n_sent = self.n_recv = self._b_out = self._b_in = self._depth = 0
        self.next_flush = t0 + FLUSH_NS
        self._now = meter.clock.now_ns  # looked up once: read twice per message
        if conn is not None:
            conn.on_wait = self._send_waited
            if type(conn) is FastConnection:  # its recv() counts for us (see recv)
                conn.session, conn.now = self, self._now

    @property
    def ok(self) -> bool:
        """The handshake succeeded (k6: status == 101)."""
        return self.status == 101

    @property
    def open(self) -> bool:
        return not self._ended and self.conn is not None and self.conn.is_open()

    def _require(self) -> Conn:
        if self.conn is None or self._ended:
            why = f", {self.error}" if self.error else (
                f", closed with code {self.close_code}" if self.close_code else "")
            raise WSClosed(f"WebSocket {self.url} is not open (status {self.status}{why})",
                           url=self.url,
                           status=self.status, error=self.error or "closed",
                           close_code=self.close_code)
        return self.conn

    # -- messages -------------------------------------------------------------------------
    def send(self, message: str | bytes | bytearray | memoryview) -> Awaitable[None]:
        """Send one text (str) or binary (bytes-like, handed on without a copy) message;
        await what it returns (`await s.send(m)`).

        When nothing blocks the message is written before send() returns (as k6's
        `socket.send`) and the awaitable is already finished. Otherwise it waits while
        `write_limit` bytes are unsent; a peer that reads nothing for `send_timeout`
        seconds is dead to us: the socket is aborted, `ws_errors{error:"send timeout"}`
        recorded and WSClosed raised (the write buffer never grows past the limit).
        """
        conn = self.conn
        if conn is not None and not self._ended and conn.send_now(message):  # the fast path
            self._n_sent += 1
            if self._now() >= self.next_flush:
                self.flush()
            return SENT
        return self._send(message)

    async def _send(self, message: str | bytes | bytearray | memoryview) -> None:
        conn = self._require()
        try:
            async with asyncio.timeout(self.send_timeout):
                await conn.send(message)
        except TimeoutError:
            raise self._stuck("send", self.send_timeout) from None
        except ConnectionClosed as e:
            raise self.lost(e) from None
        self._n_sent += 1
        if self._now() >= self.next_flush:
            self.flush()

    def recv(self, timeout: float | None = None) -> Awaitable[str | bytes]:
        """The next message (await it); WSTimeout after `timeout` seconds, WSClosed once
        closed. Without a timeout on picows this is the connection's own recv(), which
        counts and flushes for the session: one coroutine per message instead of two."""
        conn = self.conn
        if timeout is None and type(conn) is FastConnection and not self._ended:
            return conn.recv_fast()
        return self._recv(timeout)

    async def _recv(self, timeout: float | None) -> str | bytes:  # noqa: ASYNC109
        conn = self._require()
        try:
            if timeout is None:
                msg = await conn.recv()
            else:
                async with asyncio.timeout(timeout):
                    msg = await conn.recv()
        except TimeoutError:
            raise WSTimeout(f"no message from {self.url} within {timeout:g} s") from None
        except ConnectionClosed as e:
            raise self.lost(e) from None
        if type(conn) is not FastConnection:  # FastConnection.recv counted it
            self.n_recv += 1
            if self._now() >= self.next_flush:
                self.flush()
        return msg

    def __aiter__(self) -> WSSession:
        return self

    async def __anext__(self) -> str | bytes:
        """Messages until the socket closes (however it closes: see close_code)."""
        if self.conn is None or self._ended:
            raise StopAsyncIteration
        try:
            return await self.recv()
        except WSClosed:
            raise StopAsyncIteration from None

    async def ping(self, timeout: float = 10.0) -> float:  # noqa: ASYNC109
        """Send a ping, wait for its pong; the round trip in ms (recorded as ws_ping)."""
        conn = self._require()
        clock = self.meter.clock
        t0 = clock.now_ns()
        try:
            async with asyncio.timeout(timeout):  # the ping itself waits on a peer not reading
                waiter = await conn.ping()
                await waiter
        except TimeoutError:
            self._error("ping timeout")
            raise WSTimeout(f"no pong from {self.url} within {timeout:g} s") from None
        except ConnectionClosed as e:
            raise self.lost(e) from None
        t1 = clock.now_ns()
        ms = (t1 - t0) / 1e6
        self.meter.recorder.sample(self.m.ping, ms, self.tags, t1)
        if t1 >= self.next_flush:  # a quiet held socket still reports bytes and queue depth
            self.flush(t1)
        return ms

    # -- closing --------------------------------------------------------------------------
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close (idempotent). A socket the peer already closed counts as unexpected.

        Bounded: writing the close frame to a peer that does not read, then waiting for its
        answer, takes at most CLOSE_TIMEOUT (+1 s), or INTERRUPTED_CLOSE when the iteration
        is being interrupted (the graceful stop is already over); past that the socket is
        aborted and `ws_errors{error:"close timeout"}` recorded."""
        conn = self.conn
        if conn is None or self._ended:
            return
        try:
            if conn.is_open():
                self._closing = True
                try:
                    async with asyncio.timeout(_close_deadline()):
                        await conn.close(code, reason)
                except TimeoutError:
                    self._error("close timeout")
            else:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CLOSE_TIMEOUT):
                        await conn.wait_closed()
        finally:
            self._finish(self.meter.clock.now_ns())

    def expect_close(self) -> None:
        """The peer will close next because the scenario asked it to (e.g. a logout message):
        do not count that close as an unexpected disconnect."""
        self._closing = True

    async def __aenter__(self) -> WSSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def lost(self, e: ConnectionClosed) -> WSClosed:
        """The connection turned out closed while we used it: finish and explain (also
        called by FastConnection.recv, which raises what this returns)."""
        self._finish(self.meter.clock.now_ns())
        rcvd = e.rcvd
        conn = self.conn
        failed = None if self._closing or conn is None else conn.failed_with()
        error = "closed"
        if failed is not None:
            code, reason = failed
            error = f"close {code} ({FAIL_CODES.get(code, 'protocol error')})"
            why = f"code {code} ({FAIL_CODES.get(code, 'protocol error')}): {reason}"
            who = "closed by loadgen (the peer broke the protocol)"
        else:
            why = f"code {rcvd.code} {rcvd.reason!r}" if rcvd else "no close frame (code 1006)"
            who = "closed" if self._closing else "closed by the server or the network"
        return WSClosed(f"WebSocket {self.url} {who}: {why}", url=self.url, status=self.status,
                        error=error, close_code=self.close_code)

    def _stuck(self, what: str, seconds: float | None) -> WSClosed:
        """A `what` that waited `seconds` on a peer that reads nothing: abort and explain."""
        error = f"{what} timeout"
        self._error(error)
        self._closing = True  # loadgen ended it: not a disconnect by the peer
        self._finish(self.meter.clock.now_ns())
        return WSClosed(f"WebSocket {self.url}: the peer read nothing for {seconds or 0:g} s "
                        f"({what} blocked); connection aborted", url=self.url,
                        status=self.status, error=error, close_code=self.close_code)

    def _error(self, error: str) -> None:
        meter = self.meter
        meter.recorder.sample(self.m.errors, 1.0, merge_tags(self.tags, {"error": error}),
                              meter.clock.now_ns())

    def _finish(self, t_end: int) -> None:
        """Record the session once: k6's session samples (connect-start timestamp) with
        close_code, an unexpected disconnect when we did not ask for the close."""
        if self._ended:
            return
        self._ended = True
        m, conn = self.m, self.conn
        rec = self.meter.recorder
        tags = self.tags
        if conn is not None:
            if not conn.is_closed():
                conn.abort()  # interrupted mid-close: never leave a socket behind
            # loadgen's own 1002/1007/1009 (not 1006) unless the scenario asked for the close
            failed = None if self._closing else conn.failed_with()
            self.close_code = code = failed[0] if failed else (conn.close_code or 1006)
            tags = merge_tags(self.tags, {"close_code": str(code)})
            if not self._closing:
                rec.sample(m.unexpected_disconnects, 1.0, tags, t_end)
            if failed is not None:
                self._error(f"close {code} ({FAIL_CODES.get(code, 'protocol error')})")
            elif not self._closing and code not in NORMAL_CLOSES:
                self._error(f"close {code}")
            self.flush(t_end)
            self.live.discard(self)
            conn.on_wait = None  # no session <-> connection cycle left for the GC to find
            if type(conn) is FastConnection:
                conn.session = None
        rec.sample(m.sessions, 1.0, tags, self.t0)
        rec.sample(m.session_duration, (t_end - self.t0) / 1e6, tags, self.t0)

    # -- batching -------------------------------------------------------------------------
    def _send_waited(self, ns: int) -> None:
        meter = self.meter
        meter.recorder.sample(self.m.send_wait, ns / 1e6, self.tags, meter.clock.now_ns())

    def flush(self, now: int | None = None) -> None:
        """Hand batched message counts, wire bytes and the receive-queue depth on."""
        meter, m, conn = self.meter, self.m, self.conn
        if conn is None:
            return
        now = meter.clock.now_ns() if now is None else now
        rec, tags = meter.recorder, self.tags
        if self._n_sent:
            rec.sample(m.msgs_sent, float(self._n_sent), tags, now)
            self._n_sent = 0
        if self.n_recv:
            rec.sample(m.msgs_received, float(self.n_recv), tags, now)
            self.n_recv = 0
        meter.add_bytes(conn.n_out - self._b_out, conn.n_in - self._b_in)
        self._b_out, self._b_in = conn.n_out, conn.n_in
        depth = conn.queue_depth()
        if depth or self._depth:  # only while something is (or just was) queued
            rec.sample(m.queue_depth, float(depth), tags, now)
        self._depth = depth
        self.next_flush = now + FLUSH_NS

    # -- long-lived sockets ---------------------------------------------------------------
    async def hold(self, *, until_ns: int | None = None, ping_every: float | None = 10.0,
                   ping_timeout: float = 10.0,
                   on_message: Callable[[str | bytes], Any] | None = None,
                   drain: bool = True) -> bool:
        """Keep the socket open until the scenario's end (or `until_ns`), reading every
        message into `on_message` (sync or async) and pinging every `ping_every` seconds.

        Returns True if the socket was still open at the end, False if it dropped (already
        recorded). With `drain`, after the end it keeps reading while the run's delivery
        tracker still waits for messages, up to the tracker's grace: in-flight messages
        land instead of being counted lost. Does not close; `async with` does.
        """
        clock = self.meter.clock
        end = until_ns if until_ns is not None else self.meter.scenario_end()
        reader = asyncio.ensure_future(self._pump(on_message))
        try:
            next_ping = clock.now_ns() + round(ping_every * 1e9) if ping_every else None
            while not reader.done():
                now = clock.now_ns()
                if end is not None and now >= end:
                    break
                if next_ping is not None and now >= next_ping:
                    try:
                        await self.ping(timeout=ping_timeout)
                    except WSTimeout:
                        self._finish(clock.now_ns())  # dead peer: abort, count the drop
                        break
                    except WSClosed:
                        break
                    next_ping = clock.now_ns() + round((ping_every or 0) * 1e9)
                    continue
                wakes = [t for t in (end, next_ping) if t is not None]
                await wait_first(clock, min(wakes) if wakes else None, reader)
            tracker = self.meter.deliveries()
            if drain and tracker is not None and not reader.done() and tracker.outstanding:
                await wait_first(clock, None, reader,
                                 tracker.wait_idle(tracker.grace_deadline()))
            if reader.done() and not reader.cancelled() and reader.exception() is not None:
                raise reader.exception()  # type: ignore[misc]
            return self.open
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _pump(self, on_message: Callable[[str | bytes], Any] | None) -> None:
        async for msg in self:
            if on_message is not None:
                r = on_message(msg)
                if inspect.isawaitable(r):
                    await r

    def __repr__(self) -> str:
        state = "open" if self.open else f"closed {self.close_code}" if self._ended else "dead"
        return f"<WSSession {self.url} {state}>"

