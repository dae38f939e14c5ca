"""`vu.ws`: k6's WebSocket API on the `websockets` asyncio client, with k6's metrics.

Why it is shaped like this:

* **k6's session metrics, k6's timing.** `ws_sessions`, `ws_connecting` and `ws_session_duration`
  are stamped with the connect start (k6-compat.md section 6). k6 pushes them after the socket
  closes; we record `ws_connecting` right after the handshake (so it is live) and `ws_sessions` /
  `ws_session_duration` when the session ends, because only then is the `close_code` tag known
  (loadgen's addition, so `ws_sessions{close_code:1002}` thresholds work). A sample can therefore
  enter the record stream long after its timestamp (a 30-minute hold: 30 minutes late).
* **Failed connects raise, and are still counted.** An unreachable URL, a 403 or a non-WebSocket
  endpoint records a session with status = the HTTP status (or 0: k6 itself omits the tag then)
  plus `ws_errors{error}`, then raises `WSError` naming the URL and status. k6's JS callback API
  returns a dead response instead; in Python the next `send` would fail anyway, further from
  the cause. `connect(..., throw=False)` gives k6's behaviour (`session.status`, `.error`).
* **Cheap per message.** `ws_msgs_sent`/`ws_msgs_received` are counted in ints and flushed as
  one counter sample per session per second (and at close): totals exact, timestamps coarse.
* **Bytes on the wire.** The connection counts what the socket really carries (handshake and
  frame headers too), which k6 adds to data_sent/data_received.
* **Bounded memory, visible backpressure.** Receive buffers hold at most `max_queue` frames of at
  most `max_size` bytes; sends wait once `write_limit` bytes are unsent. Time blocked that way is
  `ws_send_wait`; a non-empty receive queue shows as the `ws_queue_depth` gauge.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.protocol import State
from websockets.typing import Subprotocol

from loadgen.errors import LoadgenError
from loadgen.metrics.model import Contains, MetricType, TagSet, merge_tags, tagset
from loadgen.net import errors as neterr
from loadgen.net.client import USER_AGENT, strip_credentials

if TYPE_CHECKING:
    from loadgen.vu import VU

FLUSH_NS = 1_000_000_000  # message counters reach the recorder at most this late
MAX_SIZE = 32 * 2**20  # largest incoming message (bytes)
MAX_QUEUE = 32  # incoming frames buffered before reading from the socket pauses
WRITE_LIMIT = 2**16  # unsent bytes before send() waits for the socket to drain
CLOSE_TIMEOUT = 2.0  # seconds to wait for the peer's close frame before aborting
NORMAL_CLOSES = (1000, 1001)


class WSError(LoadgenError):
    """A WebSocket failed: `url`, `status` (HTTP status of the handshake, 0 without one) and
    `error` (the short, low-cardinality reason also used as the `ws_errors` tag)."""

    def __init__(self, message: str, *, url: str, status: int = 0, error: str = "",
                 close_code: int | None = None) -> None:
        super().__init__(message)
        self.url, self.status, self.error, self.close_code = url, status, error, close_code


class WSClosed(WSError):
    """The socket is closed (by the peer, the network, or us) and cannot send or receive."""


class WSTimeout(TimeoutError):
    """No message (recv) or no pong (ping) within the timeout; the socket stays usable."""


def ws_base(base_url: str | None) -> str | None:
    """The WebSocket base for a scenario's HTTP base URL: http -> ws, https -> wss."""
    if not base_url:
        return None
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if base_url.startswith(http):
            return ws + base_url[len(http):].rstrip("/")
    return base_url.rstrip("/")


class _Conn(ClientConnection):
    """A websockets connection that counts wire bytes and times sends blocked on a full
    write buffer (the only kind of send that waits)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.n_in = 0
        self.n_out = 0
        self.on_wait: Callable[[int], None] | None = None
        pull = self.protocol.data_to_send

        def counted() -> list[bytes]:
            out = pull()
            for chunk in out:
                self.n_out += len(chunk)
            return out

        self.protocol.data_to_send = counted  # type: ignore[method-assign]

    def data_received(self, data: bytes) -> None:
        self.n_in += len(data)
        super().data_received(data)

    async def drain(self) -> None:
        if not self.paused or self.on_wait is None:
            await super().drain()
            return
        t0 = time.perf_counter_ns()
        try:
            await super().drain()
        finally:
            self.on_wait(time.perf_counter_ns() - t0)


class WSClient:
    """One VU's WebSocket client (`vu.ws`): opens sessions and knows the scenario's end."""

    def __init__(self, vu: VU) -> None:
        self.vu = vu
        rt = vu.rt
        self.clock = rt.clock
        self.recorder = rt.recorder
        self.base_url = vu.env.get("WS_BASE_URL") or ws_base(rt.base_url)
        self.sessions: set[WSSession] = set()
        reg = rt.run.registry
        self.m = {name: reg[name] for name in (
            "ws_sessions", "ws_connecting", "ws_session_duration", "ws_msgs_sent",
            "ws_msgs_received", "ws_ping", "data_sent", "data_received")}
        for name, mtype, contains in (
                ("ws_unexpected_disconnects", MetricType.COUNTER, Contains.DEFAULT),
                ("ws_errors", MetricType.COUNTER, Contains.DEFAULT),
                ("ws_send_wait", MetricType.TREND, Contains.TIME),
                ("ws_queue_depth", MetricType.GAUGE, Contains.DEFAULT)):
            self.m[name] = reg.get(name) or reg.define(name, mtype, contains)
        # Until the engine publishes rt.end_ns, estimate the start from the first use.
        rt.__dict__.setdefault("_ws_first_use_ns", self.clock.now_ns())
        self._end_estimate: int | None = None

    # -- the scenario's end (long-lived sockets stop there instead of being interrupted) ----
    @property
    def end_ns(self) -> int | None:
        """When this scenario's executor stops starting work (run clock), None if unknown."""
        rt = self.vu.rt
        end = getattr(rt, "end_ns", None)
        if end is not None:
            return int(end)
        if self._end_estimate is None and rt.executor is not None:
            try:
                self._end_estimate = int(rt.__dict__["_ws_first_use_ns"]
                                         + rt.executor.duration_ns())
            except (NotImplementedError, ValueError, TypeError):
                self._end_estimate = None
        return self._end_estimate  # None in setup()/teardown(): no end of their own

    @property
    def stopping(self) -> bool:
        end = self.end_ns
        return end is not None and self.clock.now_ns() >= end

    async def until_end(self) -> None:
        """Sleep on the run clock until the scenario's end (forever when it has none)."""
        end = self.end_ns
        if end is None:
            await asyncio.Event().wait()
        else:
            await self.clock.sleep_until(end)

    # -- connecting -----------------------------------------------------------------------
    def url_for(self, url: str) -> str:
        if "://" in url:
            return url
        if not self.base_url:
            raise ValueError(f"relative WebSocket URL {url!r} but no base URL: set the "
                             "scenario's base_url, BASE_URL or WS_BASE_URL")
        return self.base_url + ("" if url.startswith("/") else "/") + url

    async def connect(self, url: str, *, headers: Mapping[str, str] | None = None,
                      subprotocols: Sequence[str] | None = None, timeout: float = 10.0,  # noqa: ASYNC109
                      tags: Mapping[str, str] | None = None, throw: bool = True,
                      max_size: int | None = MAX_SIZE, max_queue: int = MAX_QUEUE,
                      write_limit: int = WRITE_LIMIT, compression: str | None = None,
                      ) -> WSSession:
        """Open a session (k6's ws.connect). Raises WSError on failure unless throw=False, in
        which case the returned session has `ok == False`, `status` and `error` set."""
        vu, clock = self.vu, self.clock
        conns: list[_Conn] = []

        def factory(*args: Any, **kwargs: Any) -> _Conn:
            c = _Conn(*args, **kwargs)
            conns.append(c)
            return c

        bad_url: ValueError | None = None
        try:
            target = self.url_for(url)
        except ValueError as e:
            target, bad_url = url, e
        t0 = clock.now_ns()
        conn: _Conn | None = None
        status, error, message = 0, "", ""
        try:
            if bad_url is not None:
                raise bad_url
            conn = await ws_connect(  # type: ignore[assignment]
                target, additional_headers=dict(headers) if headers else None,
                subprotocols=[Subprotocol(s) for s in subprotocols] if subprotocols else None,
                compression=compression, open_timeout=timeout, ping_interval=None,
                ping_timeout=None, close_timeout=CLOSE_TIMEOUT, max_size=max_size,
                max_queue=max_queue, write_limit=write_limit, proxy=None,
                user_agent_header=USER_AGENT, create_connection=factory)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            self._add_bytes(sum(c.n_out for c in conns), sum(c.n_in for c in conns))
            raise
        except Exception as e:  # noqa: BLE001 - every failure becomes a recorded session
            status, error, message = self._classify(e, conns)
        t1 = clock.now_ns()
        if conn is not None:
            subproto = conn.subprotocol or ""
            status = 101
        else:
            subproto = ""
            self._add_bytes(sum(c.n_out for c in conns), sum(c.n_in for c in conns))
        d = dict(vu.sample_tags)
        d.update(url=strip_credentials(target), status=str(status), subproto=subproto)
        if tags:
            d.update({k: str(v) for k, v in tags.items()})
        ts = tagset(d)
        rec = self.recorder
        rec.sample(self.m["ws_connecting"], (t1 - t0) / 1e6, ts, t0)
        session = WSSession(self, conn, target, ts, t0, status, subproto, error)
        if conn is None:
            rec.sample(self.m["ws_errors"], 1.0, merge_tags(ts, {"error": error}), t1)
            session._finish(t1)
            if throw:
                raise WSError(f"WebSocket {target}: {message}", url=target, status=status,
                              error=error)
            return session
        self.sessions.add(session)
        return session

    def _classify(self, e: Exception, conns: list[_Conn]) -> tuple[int, str, str]:
        """(HTTP status or 0, short error tag, message naming the URL) for a failed connect."""
        resp = conns[-1].response if conns else None
        status = resp.status_code if resp is not None else 0
        if isinstance(e, InvalidStatus):
            status = e.response.status_code
            return (status, f"handshake: HTTP {status}",
                    f"handshake refused: HTTP {status} {e.response.reason_phrase}")
        if isinstance(e, InvalidURI | ValueError) and not conns:
            return 0, "invalid url", f"invalid WebSocket URL: {e}"
        if isinstance(e, InvalidHandshake):
            return (status, "handshake: not a WebSocket endpoint",
                    f"bad handshake (not a WebSocket endpoint?): {e}")
        if isinstance(e, TimeoutError):
            return status, "handshake timeout", "connect timed out"
        code, msg = neterr.classify(e, connecting=not conns or resp is None)
        return status, msg, f"connect failed: {msg} (k6 error code {code})"

    def _add_bytes(self, sent: int, received: int) -> None:
        """Wire bytes go to the VU (emitted at its iteration end); setup/teardown VUs have no
        later iteration end, so theirs are recorded directly."""
        if not (sent or received):
            return
        vu = self.vu
        if vu.rt.executor is None:
            now, ts = self.clock.now_ns(), vu.sample_tags
            self.recorder.sample(self.m["data_sent"], float(sent), ts, now)
            self.recorder.sample(self.m["data_received"], float(received), ts, now)
        else:
            vu.bytes_sent += sent
            vu.bytes_received += received

    async def close_all(self) -> None:
        """Close every session this VU still holds (run end)."""
        await asyncio.gather(*(s.close() for s in list(self.sessions)), return_exceptions=True)


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
