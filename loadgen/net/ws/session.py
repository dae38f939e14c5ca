"""One WebSocket session: send, recv, ping, hold, close, with counters flushed cheaply."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from loadgen.metrics.model import TagSet, merge_tags
from loadgen.net.ws.conn import (
    CLOSE_TIMEOUT,
    FLUSH_NS,
    NORMAL_CLOSES,
    WSClosed,
    WSTimeout,
    _Conn,
)

if TYPE_CHECKING:
    from loadgen.net.ws.client import WSClient


class WSSession:
    """One WebSocket session: send/recv/ping/close, `async for`, `async with`, `hold()`."""

    __slots__ = ("client", "conn", "url", "tags", "t0", "status", "subprotocol", "error",
                 "close_code", "_closing", "_ended", "_n_sent", "_n_recv", "_b_out", "_b_in",
                 "_next_flush", "_depth", "__weakref__")

    def __init__(self, client: WSClient, conn: _Conn | None, url: str, tags: TagSet, t0: int,
                 status: int, subprotocol: str, error: str) -> None:
        self.client, self.conn, self.url, self.tags, self.t0 = client, conn, url, tags, t0
        self.status, self.subprotocol, self.error = status, subprotocol, error
        self.close_code: int | None = None
        self._closing = self._ended = False
        self._n_sent = self._n_recv = self._b_out = self._b_in = self._depth = 0
        self._next_flush = t0 + FLUSH_NS
        if conn is not None:
            conn.on_wait = self._send_waited

    @property
    def ok(self) -> bool:
        """The handshake succeeded (k6: status == 101)."""
        return self.status == 101

    @property
    def open(self) -> bool:
        return not self._ended and self.conn is not None and self.conn.state is State.OPEN

    def _require(self) -> _Conn:
        if self.conn is None or self._ended:
            why = f", {self.error}" if self.error else (
                f", closed with code {self.close_code}" if self.close_code else "")
            raise WSClosed(f"WebSocket {self.url} is not open (status {self.status}{why})",
                           url=self.url,
                           status=self.status, error=self.error or "closed",
                           close_code=self.close_code)
        return self.conn

    # -- messages -------------------------------------------------------------------------
    async def send(self, message: str | bytes | bytearray | memoryview) -> None:
        """Send one text (str) or binary (bytes-like, handed on without a copy) message."""
        conn = self._require()
        try:
            if (conn.send_in_progress is None and not conn.paused
                    and conn.protocol.state is State.OPEN and not conn.transport.is_closing()):
                # Fast path (a quarter less CPU per message): what websockets' send() does
                # when nothing can block, minus its context manager and no-op drain.
                if isinstance(message, str):
                    conn.protocol.send_text(message.encode())
                elif isinstance(message, bytes | bytearray | memoryview):
                    conn.protocol.send_binary(message)
                else:
                    raise TypeError(f"a WebSocket message is str or bytes-like, not "
                                    f"{type(message).__name__}")
                conn.send_data()
            else:
                await conn.send(message)
        except ConnectionClosed as e:
            raise self._lost(e) from None
        self._n_sent += 1
        if self.client.clock.now_ns() >= self._next_flush:
            self.flush()

    async def recv(self, timeout: float | None = None) -> str | bytes:  # noqa: ASYNC109
        """The next message; WSTimeout after `timeout` seconds, WSClosed once closed."""
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
            raise self._lost(e) from None
        self._n_recv += 1
        if self.client.clock.now_ns() >= self._next_flush:
            self.flush()
        return msg

    def __aiter__(self) -> WSSession:
        return self

    async def __anext__(self) -> str | bytes:
        """Messages until the socket closes (however it closes: see close_code)."""
        if self.conn is None or self._ended:
            raise StopAsyncIteration
        try:
            msg = await self.conn.recv()
        except ConnectionClosed as e:
            self._lost(e)
            raise StopAsyncIteration from None
        self._n_recv += 1
        if self.client.clock.now_ns() >= self._next_flush:
            self.flush()
        return msg

    async def ping(self, timeout: float = 10.0) -> float:  # noqa: ASYNC109
        """Send a ping, wait for its pong; the round trip in ms (recorded as ws_ping)."""
        conn = self._require()
        clock = self.client.clock
        t0 = clock.now_ns()
        try:
            waiter = await conn.ping()
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            self._error("ping timeout")
            raise WSTimeout(f"no pong from {self.url} within {timeout:g} s") from None
        except ConnectionClosed as e:
            raise self._lost(e) from None
        t1 = clock.now_ns()
        ms = (t1 - t0) / 1e6
        self.client.recorder.sample(self.client.m["ws_ping"], ms, self.tags, t1)
        if t1 >= self._next_flush:  # a quiet held socket still reports bytes and queue depth
            self.flush(t1)
        return ms

    # -- closing --------------------------------------------------------------------------
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close (idempotent). A socket the peer already closed counts as unexpected."""
        conn = self.conn
        if conn is None or self._ended:
            return
        try:
            if conn.state is State.OPEN:
                self._closing = True
                await conn.close(code, reason)
            else:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CLOSE_TIMEOUT):
                        await conn.wait_closed()
        finally:
            self._finish(self.client.clock.now_ns())

    def expect_close(self) -> None:
        """The peer will close next because the scenario asked it to (e.g. a logout message):
        do not count that close as an unexpected disconnect."""
        self._closing = True

    async def __aenter__(self) -> WSSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _lost(self, e: ConnectionClosed) -> WSClosed:
        """The connection turned out closed while we used it: finish and explain."""
        self._finish(self.client.clock.now_ns())
        rcvd = e.rcvd
        why = f"code {rcvd.code} {rcvd.reason!r}" if rcvd else "no close frame (code 1006)"
        who = "closed" if self._closing else "closed by the server or the network"
        return WSClosed(f"WebSocket {self.url} {who}: {why}", url=self.url, status=self.status,
                        error="closed", close_code=self.close_code)

    def _error(self, error: str) -> None:
        c = self.client
        c.recorder.sample(c.m["ws_errors"], 1.0, merge_tags(self.tags, {"error": error}),
                          c.clock.now_ns())

    def _finish(self, t_end: int) -> None:
        """Record the session once: k6's session samples (connect-start timestamp) with
        close_code, an unexpected disconnect when we did not ask for the close."""
        if self._ended:
            return
        self._ended = True
        c, conn = self.client, self.conn
        rec = c.recorder
        tags = self.tags
        if conn is not None:
            if conn.state is not State.CLOSED:
                conn.transport.abort()  # interrupted mid-close: never leave a socket behind
            self.close_code = code = conn.close_code or 1006
            tags = merge_tags(self.tags, {"close_code": str(code)})
            if not self._closing:
                rec.sample(c.m["ws_unexpected_disconnects"], 1.0, tags, t_end)
                if code not in NORMAL_CLOSES:
                    self._error(f"close {code}")
            self.flush(t_end)
            c.sessions.discard(self)
        rec.sample(c.m["ws_sessions"], 1.0, tags, self.t0)
        rec.sample(c.m["ws_session_duration"], (t_end - self.t0) / 1e6, tags, self.t0)

    # -- batching -------------------------------------------------------------------------
    def _send_waited(self, ns: int) -> None:
        c = self.client
        c.recorder.sample(c.m["ws_send_wait"], ns / 1e6, self.tags, c.clock.now_ns())

    def flush(self, now: int | None = None) -> None:
        """Hand batched message counts, wire bytes and the receive-queue depth on."""
        c, conn = self.client, self.conn
        if conn is None:
            return
        now = c.clock.now_ns() if now is None else now
        rec, tags = c.recorder, self.tags
        if self._n_sent:
            rec.sample(c.m["ws_msgs_sent"], float(self._n_sent), tags, now)
            self._n_sent = 0
        if self._n_recv:
            rec.sample(c.m["ws_msgs_received"], float(self._n_recv), tags, now)
            self._n_recv = 0
        c._add_bytes(conn.n_out - self._b_out, conn.n_in - self._b_in)
        self._b_out, self._b_in = conn.n_out, conn.n_in
        frames = getattr(getattr(conn, "recv_messages", None), "frames", None)
        depth = len(frames) if frames is not None else 0
        if depth or self._depth:  # only while something is (or just was) queued
            rec.sample(c.m["ws_queue_depth"], float(depth), tags, now)
        self._depth = depth
        self._next_flush = now + FLUSH_NS

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
        clock = self.client.clock
        end = until_ns if until_ns is not None else self.client.end_ns
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
                waits: set[asyncio.Future[Any]] = {reader}
                if wakes:
                    waits.add(asyncio.ensure_future(clock.sleep_until(min(wakes))))
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits - {reader}:
                        w.cancel()
            tracker = self.client.vu.rt.run.tracker
            if drain and tracker is not None and not reader.done() and tracker.outstanding:
                idle = asyncio.ensure_future(tracker.wait_idle(tracker.grace_deadline()))
                try:
                    await asyncio.wait({reader, idle}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    idle.cancel()
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

