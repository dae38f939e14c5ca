"""The WebSocket connection on picows: frames parsed and masked in C, delivered by callback.

Why: on `websockets` a ping-pong message cost loadgen ~4x the CPU of the socket calls
themselves (a generator-based frame parser, an assembler, a context manager per send), which
left it slower than k6 per core. picows parses and masks in C and calls `on_ws_frame` per
frame; this class adds only what a k6-like client needs on top: whole messages (fragments
joined, text checked as UTF-8, `max_size` enforced), a receive queue bounded by `max_queue`
(reading pauses when full), sends bounded by `write_limit` (timed while blocked), pings
matched to pongs, and the closing handshake with its deadline. It offers the same methods
as the `websockets`-based `CountingConnection` (internals.py), so a session drives either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl as ssl_module
import time
from base64 import b64encode
from collections import deque
from collections.abc import Callable
from typing import Any, NoReturn, Protocol, cast
from urllib.parse import unquote

from picows import WSAutoPingStrategy, WSCloseCode, WSListener, WSMsgType, WSTransport
from picows.common import WSHandshakeError, WSProtocolError
from picows.picows import WSProtocol  # type: ignore[attr-defined]
from picows.url import WSInvalidURL, parse_url
from websockets.exceptions import ConcurrencyError, ConnectionClosed
from websockets.frames import Close

from loadgen.net.ws.core import Core, PyCore, bind

__all__ = ["Attempt", "FastConnection", "HandshakeEOF", "WSHandshakeError", "WSInvalidURL",
           "connect"]

TEXT, BINARY, CONT = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION
PONG, CLOSE = WSMsgType.PONG, WSMsgType.CLOSE
NO_LIMIT = 2**62  # picows wants a number where loadgen's max_size=None means "no cap"

#: picows logs a peer's protocol error at ERROR level; loadgen records it in ws_errors and
#: the session's close code instead, so its log stays quiet
LOG = logging.getLogger("loadgen.net.ws.picows")
LOG.setLevel(logging.CRITICAL + 1)
LOG.propagate = False


class Counting(Protocol):
    """What recv() uses of the session it counts for (session.WSSession)."""

    n_recv: int
    next_flush: int

    def flush(self, now: int | None = None) -> None: ...

    def lost(self, e: ConnectionClosed) -> Exception: ...


def http_size(first_line: int, headers: Any) -> int:
    """Bytes of an HTTP head: its first line, `name: value` lines, the blank line."""
    return first_line + 2 + sum(len(k) + len(v) + 4 for k, v in headers.items()) + 2


class FastConnection(Core, WSListener):
    """One client WebSocket on picows (the listener picows calls, and the session's conn)."""

    __slots__ = ("close_timeout", "max_size", "max_queue", "write_limit", "t", "n_in", "n_out",
                 "on_wait", "subprotocol", "close_code", "msgs", "waiter", "parts", "part_text",
                 "part_size", "pings", "reading_paused", "write_paused", "drained", "closed",
                 "reaper", "loop", "done", "watcher", "hs", "session", "now")

    def __init__(self, max_size: int | None, max_queue: int, write_limit: int,
                 close_timeout: float) -> None:
        super().__init__()
        self.close_timeout = close_timeout
        self.max_size = max_size if max_size is not None else NO_LIMIT
        self.max_queue = max(1, max_queue)
        self.write_limit = write_limit
        self.t: WSTransport | None = None
        self.hs: Any = None  # the close handshake, kept when the transport is let go
        self.n_in = self.n_out = 0
        self.on_wait: Callable[[int], None] | None = None
        self.subprotocol: str | None = None
        self.close_code: int | None = None
        self.msgs: deque[str | bytes] = deque()
        self.waiter: asyncio.Future[str | bytes | None] | None = None
        self.parts: list[bytes] | None = None  # a fragmented message being joined
        self.part_text = False
        self.part_size = 0
        self.pings: deque[tuple[bytes, asyncio.Future[None]]] = deque()
        self.reading_paused = False
        self.write_paused = False
        self.drained: asyncio.Future[None] | None = None
        self.closed = False
        self.reaper: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.watcher: asyncio.Task[None] | None = None
        #: the WSSession using this connection: recv() counts its messages into it and
        #: raises its errors, so `await session.recv()` is one coroutine, not two
        self.session: Counting | None = None
        self.now: Callable[[], int] = time.perf_counter_ns  # the session's clock

    # -- picows callbacks ------------------------------------------------------------------
    def on_ws_connected(self, transport: WSTransport) -> None:
        self.t = transport
        transport.underlying_transport.set_write_buffer_limits(high=self.write_limit)
        req, resp = transport.request, transport.response
        self.n_out += http_size(len(req.method) + len(req.path) + len(req.version) + 2,
                                req.headers)
        self.n_in += http_size(len(resp.version) + 4 + len(resp.status.phrase), resp.headers)
        self.subprotocol = resp.headers.get("Sec-WebSocket-Protocol")
        self.watcher = self.loop.create_task(self.watch(transport))

    async def watch(self, transport: WSTransport) -> None:
        """picows hands a protocol error it hit (an oversized frame, a bad opcode) to
        whoever awaits the disconnect, and asyncio logs it with a traceback when nobody
        does: await it here. The session reports the close code loadgen sent instead."""
        with contextlib.suppress(Exception):
            await transport.wait_disconnected()

    def slow_frame(self, transport: WSTransport, frame: Any) -> None:
        """The Python path of a frame (the C core hands back the one it will not take)."""
        PyCore.on_ws_frame(self, transport, frame)

    def other_frame(self, transport: WSTransport, frame: Any, mt: Any, n: int) -> None:
        """Fragments, pongs and close frames (the rarer kinds)."""
        self.n_in += n + (2 if n < 126 else 4 if n < 65536 else 10)
        if mt is TEXT or mt is BINARY:
            if self.parts is not None:
                raise WSProtocolError(WSCloseCode.PROTOCOL_ERROR, "expected a continuation frame")
            self.parts, self.part_text, self.part_size = [frame.get_payload_as_bytes()], \
                mt is TEXT, n
        elif mt is CONT:
            parts = self.parts
            if parts is None:
                if self.part_size < 0:  # the rest of a message already refused: drop it
                    return
                raise WSProtocolError(WSCloseCode.PROTOCOL_ERROR, "unexpected continuation frame")
            self.part_size += n
            if self.part_size > self.max_size:
                # free what was joined so far now: the error's traceback keeps this frame
                # (and its `parts`) alive until the cyclic GC runs, 32 MiB per session; then
                # drop the fragments still arriving before the socket closes
                parts.clear()
                self.parts, self.part_size = None, -1
                raise WSProtocolError(WSCloseCode.MESSAGE_TOO_BIG,
                                      f"message over {self.max_size} bytes")
            parts.append(frame.get_payload_as_bytes())
            if frame.fin:
                data = b"".join(parts)
                self.parts = None
                if self.part_text:
                    try:
                        self.deliver(data.decode())
                    except UnicodeDecodeError:
                        raise WSProtocolError(WSCloseCode.INVALID_TEXT,
                                              "invalid UTF-8 in a text message") from None
                else:
                    self.deliver(data)
        elif mt is PONG:
            payload = frame.get_payload_as_bytes()
            while self.pings:  # a pong answers its ping and every earlier one (RFC 6455 5.5.3)
                data, fut = self.pings.popleft()
                if not fut.done():
                    fut.set_result(None)
                if data == payload:
                    break
        elif mt is CLOSE:
            self.close_code = code_of(frame.get_close_code()) if n >= 2 else 1005
            if not transport.is_close_frame_sent:  # echo it, then let the server end TCP
                transport.send_close(frame.get_close_code() if n >= 2 else WSCloseCode.OK)
                self.n_out += 6 + min(n, 2)
            self.arm_reaper()
            self.wake()

    def pause(self) -> None:
        """The receive queue is full: stop reading the socket until recv() drains it."""
        if not self.reading_paused and self.t is not None:
            self.reading_paused = True
            self.t.underlying_transport.pause_reading()

    def deliver(self, msg: str | bytes) -> None:
        """A whole message: the result of the recv() waiting for it (that recv found the
        queue empty, so order holds), else into the queue."""
        w = self.waiter
        if w is not None:
            self.waiter = None
            if not w.done():
                w.set_result(msg)
                return
        msgs = self.msgs
        msgs.append(msg)
        if len(msgs) >= self.max_queue:
            self.pause()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed = True
        self.parts = None  # a message cut off by the close never completes
        # Let go of the transport: it leads back here through picows' protocol, whose read
        # buffer (C memory, grown to the largest frame) the cyclic GC would free only when
        # Python allocations next trigger it: hundreds of MB over many short sessions.
        self.hs = transport.close_handshake
        self.t = None
        if self.reaper is not None:
            self.reaper.cancel()
        for _data, fut in self.pings:
            if not fut.done():
                fut.set_exception(self.lost())
                fut.exception()  # retrieved: a ping nobody awaits any more is not an error
        self.pings.clear()
        self.wake()
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        if not self.done.done():
            self.done.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    # -- what a session calls --------------------------------------------------------------
    def wake(self) -> None:
        w = self.waiter
        if w is not None:
            self.waiter = None
            if not w.done():
                w.set_result(None)

    def lost(self) -> ConnectionClosed:
        """The exception websockets raises on a closed socket (what the session handles)."""
        t = self.t
        hs = t.close_handshake if t is not None else self.hs
        rcvd = Close(code_of(hs.recv.code), hs.recv.reason) if hs is not None and \
            hs.recv is not None else None
        sent = Close(code_of(hs.sent.code), hs.sent.reason) if hs is not None and \
            hs.sent is not None else None
        both = rcvd is not None and sent is not None
        return ConnectionClosed(rcvd, sent, bool(hs.recv_then_sent) if both and hs else None)

    def is_open(self) -> bool:
        t = self.t
        return t is not None and not t.is_close_frame_sent and not t.is_disconnected \
            and self.close_code is None

    def is_closed(self) -> bool:
        return self.closed

    def _write(self, message: str | bytes | bytearray | memoryview) -> None:
        t = self.t
        assert t is not None
        if isinstance(message, str):
            data = message.encode()
            t.send(TEXT, data)
        elif isinstance(message, bytes | bytearray | memoryview):
            data = message  # type: ignore[assignment]
            t.send(BINARY, data)
        else:
            raise TypeError(f"a WebSocket message is str or bytes-like, not "
                            f"{type(message).__name__}")
        n = data.nbytes if isinstance(data, memoryview) else len(data)
        self.n_out += n + (6 if n < 126 else 8 if n < 65536 else 14)  # masked header

    async def send(self, message: str | bytes | bytearray | memoryview) -> None:
        """Send, first waiting (timed) while the write buffer is over `write_limit`."""
        if self.write_paused and self.is_open():
            t0 = time.perf_counter_ns()
            try:
                while self.write_paused and not self.closed:
                    self.drained = self.loop.create_future()
                    await self.drained
            finally:
                if self.on_wait is not None:
                    self.on_wait(time.perf_counter_ns() - t0)
        if not self.is_open():
            raise self.lost()
        self._write(message)

    async def recv(self) -> str | bytes:
        """The next message (the C core's recv_fast() is its twin)."""
        msgs = self.msgs
        while not msgs:
            w = self.waiter  # done when its recv() was cancelled (a timeout)
            if self.closed or self.close_code is not None or (w is not None and not w.done()):
                self.fail_recv()
            self.waiter = w = self.loop.create_future()
            try:
                got = await w  # deliver()'s message, or None from wake()
            except BaseException:
                if w.done() and not w.cancelled() and (kept := w.result()) is not None:
                    msgs.appendleft(kept)  # delivered as the wait was cancelled: keep it
                raise
            if got is not None:
                msg = got
                break
        else:
            msg = msgs.popleft()
            if self.reading_paused:
                self.taken()
        s = self.session
        if s is not None:  # counted for the session, flushed when due (see WSSession.recv)
            s.n_recv += 1
            if self.now() >= s.next_flush:
                s.flush()
        return msg

    def fail_recv(self) -> NoReturn:
        """What recv() raises on a closed socket (the session's WSClosed when a session
        uses it), or with another recv() already waiting."""
        if self.closed or self.close_code is not None:
            s = self.session
            raise self.lost() if s is None else s.lost(self.lost())
        raise ConcurrencyError("recv() while another coroutine is already in recv()")

    def taken(self) -> None:
        """A message left a paused queue: resume reading once it is down to a quarter."""
        if self.reading_paused and len(self.msgs) <= self.max_queue // 4 and self.t is not None:
            self.reading_paused = False
            self.t.underlying_transport.resume_reading()

    async def ping(self) -> asyncio.Future[None]:
        """Send a ping; the future its pong resolves (websockets' shape)."""
        if not self.is_open():
            raise self.lost()
        assert self.t is not None
        data = f"{id(self) & 0xFFFF:04x}{len(self.pings)}{time.perf_counter_ns()}".encode()
        fut = self.loop.create_future()
        self.pings.append((data, fut))
        self.t.send_ping(data)
        self.n_out += len(data) + 6
        return fut

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """The closing handshake: our close frame, the peer's, then the peer ends TCP (the
        caller bounds the wait; `arm_reaper` bounds it when nobody waits)."""
        t = self.t
        if t is not None and not t.is_close_frame_sent and not t.is_disconnected:
            payload = reason.encode()
            t.send_close(WSCloseCode(code) if code in _CODES else cast(WSCloseCode, code), payload)
            self.n_out += 8 + len(payload)
            self.arm_reaper()
        await self.wait_closed()

    async def wait_closed(self) -> None:
        await asyncio.shield(self.done)

    def arm_reaper(self) -> None:
        """After a close frame either way, the socket is dropped at most CLOSE_TIMEOUT later
        even if nobody waits on it (a reader of a peer that never ends TCP)."""
        if self.reaper is None and not self.closed:
            self.reaper = self.loop.call_later(self.close_timeout, self.abort)

    def failed_with(self) -> tuple[int, str] | None:
        """(code, reason) of a close frame loadgen sent first (see internals.failed_with)."""
        t = self.t
        hs = t.close_handshake if t is not None else self.hs
        if hs is None or hs.sent is None or hs.recv_then_sent:
            return None
        return code_of(hs.sent.code), hs.sent.reason

    def abort(self) -> None:
        if self.t is not None and not self.t.is_disconnected:
            self.t.disconnect(graceful=False)
        elif self.t is None and not self.done.done():
            self.done.set_result(None)

    def queue_depth(self) -> int:
        return len(self.msgs)


bind(FastConnection)

_CODES = frozenset(c.value for c in WSCloseCode)


def code_of(code: Any) -> int:
    """A close code as an int, whether picows hands an enum member or a number."""
    return int(getattr(code, "value", code))


class Attempt:
    """What a connect attempt leaves for the caller's accounting when it fails: wire bytes
    and the HTTP status of a refused handshake (0 without one)."""

    __slots__ = ("n_out", "n_in", "status", "reason", "dialed", "upgraded")

    def __init__(self) -> None:
        self.n_out = self.n_in = self.status = 0
        self.reason = ""
        self.dialed = self.upgraded = False  # the URL parsed; the TCP (+TLS) connection up


class HandshakeEOF(EOFError):
    """The server closed the connection before answering the upgrade request."""


async def connect(url: str, attempt: Attempt, *, headers: dict[str, str],
                  ssl: ssl_module.SSLContext | None, max_size: int | None, max_queue: int,
                  write_limit: int, close_timeout: float) -> FastConnection:
    """Open `url` (the caller bounds the wait). Built on picows' protocol class rather than
    its `ws_connect` so that a connect cancelled or timed out mid-handshake aborts its
    socket instead of leaving it to the peer (ws_connect shields the handshake wait)."""
    loop = asyncio.get_running_loop()
    parsed = parse_url(url)
    attempt.dialed = True
    if (parsed.username or parsed.password) and "Authorization" not in headers:
        # user:password in the URL is HTTP Basic auth (RFC 6455 4.1; websockets and k6's
        # dialer both send it); picows' parser leaves it percent-encoded
        cred = f"{unquote(parsed.username or '')}:{unquote(parsed.password or '')}"
        headers = {**headers, "Authorization": "Basic " + b64encode(cred.encode()).decode()}
    made: list[FastConnection] = []

    def listener() -> FastConnection:
        c = FastConnection(max_size, max_queue, write_limit, close_timeout)
        made.append(c)
        return c

    proto = WSProtocol(
        parsed.netloc.rpartition("@")[2],  # the Host header: never the password
        parsed.resource_name, True, listener, LOG, True, None,
        False, 10.0, 10.0, WSAutoPingStrategy.PING_WHEN_IDLE, True,
        max_size if max_size is not None else NO_LIMIT, headers, 16 * 1024)
    tls: ssl_module.SSLContext | None = None
    if parsed.is_secure:
        tls = ssl if ssl is not None else ssl_module.create_default_context()
    try:
        await loop.create_connection(lambda: proto, parsed.host, parsed.port, ssl=tls,
                                     server_hostname=parsed.host if tls else None)
        attempt.upgraded = True
        await proto.wait_until_handshake_complete()
    except BaseException as e:
        t = proto.transport
        if t is not None:
            t.disconnect(graceful=False)
            if t.request is not None:
                req = t.request
                attempt.n_out = http_size(len(req.method) + len(req.path) + 11, req.headers)
        if isinstance(e, WSHandshakeError):
            attempt.n_in = len(e.raw_header or b"") + len(e.raw_body or b"")
            if e.response is not None:
                attempt.status = int(e.response.status)
                attempt.reason = str(getattr(e.response.status, "phrase", ""))
        raise
    conn = proto.listener
    if conn is None or not made or proto.transport is None or proto.transport.is_disconnected:
        raise HandshakeEOF("the server closed the connection before the 101 response")
    return made[0]
