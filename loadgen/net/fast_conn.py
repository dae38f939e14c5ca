"""One keep-alive HTTP/1.1 connection of the fast transport: an asyncio Protocol fed to
httptools' llhttp response parser.

Everything here runs in the event loop's read callback, so it is written for the cost per
response. llhttp validates every byte, but only two of its callbacks reach Python per
response (body, message complete): the header block is kept as the raw bytes it arrived as
(found with one `find`) and split into names and values only if someone reads a header
(fast_headers). The timeout timer is re-armed lazily, once per timeout period per
connection rather than once per request. Trouble never raises out of here: it is recorded in
`err_code`/`err_msg` and the sender's future is resolved.

The fields, `begin`, `send` and `timings` live in the base class (conn_core.Core): in C
where it was built, whose `data_received` also answers a whole plain response without
llhttp's callbacks and hands everything else to `_receive` here.
"""

from __future__ import annotations

import asyncio
from time import perf_counter_ns

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

from loadgen.net import errors as neterr
from loadgen.net import limits
from loadgen.net.conn_core import _NO_CAP, Core
from loadgen.net.conn_core import COUNT_FROM as _COUNT_FROM

MAX_HEAD = limits.MAX_HEADER_BYTES  # a longer status line + headers ends the request


class _Stop(Exception):
    """Raised inside a parser callback to stop parsing the rest of the data."""


class _HeadView:
    """The parser callbacks for a HEAD request. llhttp cannot be told a response answers
    HEAD and would wait for Content-Length body bytes that never come, so this view ends
    the response when its headers are complete; the connection then gets a fresh parser.
    (Only HEAD pays for the extra headers-complete callback.)"""

    __slots__ = ("conn",)

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def on_headers_complete(self) -> None:
        c = self.conn
        status = c.parser.get_status_code()
        if status >= 200:
            c.status = status
            c.keep = c.parser.should_keep_alive()
            c.head_stop = True
            c.finish()
            raise _Stop

    def on_body(self, body: bytes) -> None:
        self.conn.on_body(body)

    def on_message_complete(self) -> None:
        self.conn.on_message_complete()


class Conn(Core, asyncio.Protocol):
    """A connection and the state of the one request in flight on it (no pipelining)."""

    __slots__ = ()  # the fields are Core's

    def __init__(self, loop: asyncio.AbstractEventLoop, key: tuple[str, str, int], *,
                 cap: int | None, keep_body: bool) -> None:
        self.loop = loop
        self.key = key
        self.transport = None
        self.parser = HttpResponseParser(self)
        self.closed = False  # the connection cannot carry another request
        self.used = False  # has carried a request (a stale keep-alive close may be retried)
        self.proto = ""
        self.tls_version = ""
        self.paused = False  # the transport's write buffer is not empty
        self.busy = False
        self.done = False
        self.is_head = False
        self.head_stop = False
        self.fut = None
        self.status = 0
        self.head = None  # status line + headers, once they are all here
        self.hbuf = b""  # the start of a head split over several reads
        self.body = None
        self.blen = self.nrecv = 0
        self.keep = True
        self.t_sent = self.t_first = self.t_end = 0
        self.err_code = 0
        self.err_msg = ""
        self.deadline = 0.0
        self.timer = None
        self.timer_at = 0.0
        self.cap = _NO_CAP if cap is None else cap
        self.keep_body = keep_body
        self.n1xx = 0  # informational responses before the final one
        self.plain = False  # see conn_core.PyCore

    # -- the sender's side (begin, send and timings are Core's) ----------------------------
    def _new_parser(self, is_head: bool) -> None:
        """A fresh parser for a HEAD request, or back to the plain one after it."""
        self.is_head = is_head
        self.parser = HttpResponseParser(_HeadView(self) if is_head else self)

    def _write_failed(self) -> None:
        """send()'s write raised: the transport closed under us, like a stale close."""
        self.fail(*neterr.EOF)

    def _arm(self, when: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer_at = when
        self.timer = self.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        """Fires at most once per timeout period: a request that ended in time just moved
        the deadline, so re-arm for it instead of arming a timer per request."""
        self.timer = None
        if not self.busy:
            return
        if self.loop.time() < self.deadline:
            self._arm(self.deadline)
            return
        self.fail(neterr.REQUEST_TIMEOUT, "request timeout")
        self.abort()

    def abort(self) -> None:
        self._shut(hard=True)

    def close(self) -> None:
        self._shut(hard=False)

    def _shut(self, *, hard: bool) -> None:
        """Mark closed, drop the timeout timer, then abort (discard buffers) or close."""
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None:
            if hard:
                self.transport.abort()
            else:
                self.transport.close()

    def fail(self, code: int, message: str) -> None:
        """End the request in flight with an error; the connection is not reused."""
        self.keep = False
        self.closed = True
        # the connection sits in a reference cycle with its parser until the garbage
        # collector runs: a capped 64 MiB body must not wait for it
        self.body = None
        if not self.busy:
            return
        self.busy = False
        self.done = True
        self.err_code = code
        self.err_msg = message
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_result(None)

    def finish(self) -> None:
        """The response is complete: wake the sender."""
        self.t_end = perf_counter_ns()
        if not self.proto:
            self.proto = "HTTP/" + self.parser.get_http_version()
        self.busy = False
        self.done = True
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_result(None)

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Default write-buffer limits on purpose: with high water 0 every write went out at
        # once and cost ~15% more CPU per request on uvloop (its deferred writes batch the
        # loop's wake-ups). "sending" ends when write() returns, or, for a body big enough
        # to pause the transport, when it resumes (the buffer drained below low water).
        self.transport = transport

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.busy and not self.t_sent:
            self.t_sent = perf_counter_ns()

    def _receive(self, data: bytes) -> None:
        """data_received's Python path: every read with the pure core, and with the C one
        whatever is not a whole plain response."""
        if not self.busy:  # bytes nobody asked for: the stream is out of step, drop it
            self.close()
            return
        if not self.t_first:
            self.t_first = perf_counter_ns()
            self.hbuf = b""
        self.nrecv += len(data)
        if self.head is None:
            end = -1 if self.hbuf else data.find(b"\r\n\r\n")
            if end > 0 and data[9:10] != b"1":
                self.head = data[:end]
                if end > _COUNT_FROM:
                    self._check_count(self.head)
            else:
                self._grab_head(data)
            if not self.busy:  # the head broke a limit: the request has failed
                return
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade:
            self.keep = False
            if not self.done:
                self.status = self.parser.get_status_code()
                self.finish()
            self.close()
        except HttpParserError as e:
            if not self.done:
                self.fail(*neterr.malformed(str(e) or type(e).__name__))
                self.abort()
            elif self.head_stop:  # stopped after a HEAD response's headers, as intended
                self.head_stop = False
            else:  # more bytes after a complete response
                self.close()

    if "data_received" not in vars(Core):  # the pure core: this is the only path
        data_received = _receive

    def _grab_head(self, data: bytes) -> None:
        """Keep the final response's status line and headers (skipping 1xx heads)."""
        buf = self.hbuf + data if self.hbuf else data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self.hbuf = b""
                    self.fail(*limits.headers_too_large())
                    self.abort()
                    return
                self.hbuf = buf
                return
            if end > MAX_HEAD:
                self.fail(*limits.headers_too_large())
                self.abort()
                return
            if buf[9:10] == b"1" and buf[9:12] != b"101":  # "HTTP/1.1 100 ..."
                buf = buf[end + 4:]
                continue
            self.head = buf[:end]
            self.hbuf = b""
            if end > _COUNT_FROM:
                self._check_count(self.head)
            return

    def _check_count(self, head: bytes) -> None:
        if head.count(b"\n") > limits.MAX_HEADERS:
            self.fail(*limits.too_many_headers())
            self.abort()

    def eof_received(self) -> bool | None:
        self.closed = True  # at once: the transport closes before connection_lost runs
        return None  # close the transport; connection_lost does the bookkeeping

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.busy:
            return
        if exc is None and self.head is not None and self._until_eof():
            self.keep = False
            self.status = self.parser.get_status_code()
            self.finish()  # a body delimited by the end of the connection
            return
        self.fail(*neterr.connection_lost(exc, started=self.nrecv > 0))

    def _until_eof(self) -> bool:
        """True when the response in flight has no length framing (HTTP/1.0 style), so the
        server closing the connection is how its body ends."""
        head = (self.head or b"").lower()
        if b"\r\ncontent-length:" in head or b"\r\ntransfer-encoding:" in head:
            return False
        status = self.parser.get_status_code()
        return status >= 200 and status not in (204, 304) and not self.is_head

    # -- httptools callbacks --------------------------------------------------------------
    def on_body(self, body: bytes) -> None:
        if self.done:  # a second message after the complete one
            raise _Stop
        n = self.blen + len(body)
        self.blen = n
        if n > self.cap:
            self.fail(neterr.RESPONSE_TOO_LARGE,
                      f"response body larger than max_response_bytes ({self.cap})")
            self.abort()
            raise _Stop
        if self.keep_body:
            b = self.body
            if b is None:
                self.body = body
            elif type(b) is bytes:
                self.body = bytearray(b) + body
            else:
                b += body

    def on_message_complete(self) -> None:
        if self.done:  # a second message after the complete one: not ours
            raise _Stop
        status = self.parser.get_status_code()
        if status < 200 and status != 101:  # 1xx: the real response follows (a few times)
            self.n1xx += 1
            if self.n1xx > limits.MAX_INFORMATIONAL:
                self.fail(*limits.too_many_informational())
                self.abort()
                raise _Stop
            return
        self.status = status
        self.keep = self.parser.should_keep_alive()
        self.t_end = perf_counter_ns()  # finish(), inlined: this runs once per response
        if not self.proto:
            self.proto = "HTTP/" + self.parser.get_http_version()
        self.busy = False
        self.done = True
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_result(None)
