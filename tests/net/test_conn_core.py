"""The connection's C core against its Python path: the same fields after every response.

The C `data_received` answers a whole plain response itself and must store exactly what
the Python path (llhttp and its callbacks) stores; anything outside its subset must reach
the Python path untouched. Each response below is fed to a connection on the built core and
to one on the pure core, whole and split, and every field is compared. No sockets: the
transport is a recorder.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import sysconfig
import tracemalloc
from pathlib import Path
from shutil import which
from typing import Any

import pytest

from loadgen.net import conn_core
from loadgen.net.conn_core import PyCore
from loadgen.net.fast_conn import Conn
from loadgen.net.fast_headers import make_raw_headers
from loadgen.net.types import Timings

# the pure twin of Conn: its methods on the Python core (data_received is the Python path)
_NS = {k: v for k, v in vars(Conn).items() if k not in ("__dict__", "__weakref__")}
_NS["data_received"] = Conn._receive
PyConn: Any = type("PyConn", (PyCore, asyncio.Protocol), _NS)

NGINX = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 02 Dec 2026 13:50:00 GMT\r\n"
         b"Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n"
         b"hello world\n")


def _r(status: str, *headers: str, body: bytes = b"", version: str = "1.1") -> bytes:
    head = f"HTTP/{version} {status}\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
    return head.encode("latin-1") + body


# (name, response bytes, whether the C core may answer it without the Python path)
CORPUS: list[tuple[str, bytes, bool]] = [
    ("nginx", NGINX, True),
    ("http/1.0 close", _r("200 OK", "Content-Length: 3", body=b"abc", version="1.0"), True),
    ("http/1.0 keep-alive", _r("200 OK", "Content-Length: 3", "Connection: keep-alive",
                               body=b"abc", version="1.0"), True),
    ("close", _r("200 OK", "Content-Length: 2", "Connection: close", body=b"ok"), True),
    ("mixed case, tabs", _r("200 OK", "content-LENGTH:\t 2 \t", "CONNECTION: Keep-Alive",
                            body=b"ok"), True),
    ("empty body", _r("200 OK", "Content-Length: 0"), True),
    ("404", _r("404 Not Found", "Content-Length: 9", body=b"not found"), True),
    ("500", _r("500 Internal Server Error", "Content-Length: 1", body=b"x"), True),
    ("599", _r("599 Odd", "Content-Length: 1", body=b"x"), True),
    ("no headers but length", _r("200 OK", "Content-Length: 1", body=b"x"), True),
    ("empty reason", b"HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\nx", True),
    ("tab in reason", _r("200 All\tgood", "Content-Length: 1", body=b"x"), True),
    ("leading zeros", _r("200 OK", "Content-Length: 002", body=b"ab"), True),
    ("token chars", _r("200 OK", "X-!#$%&'*+-.^_`|~: v", "Content-Length: 1", body=b"x"), True),
    ("empty value", _r("200 OK", "X-Empty:", "Content-Length: 1", body=b"x"), True),
    ("binary body", _r("200 OK", "Content-Length: 4", body=b"\r\n\x00\xff"), True),
    ("gzip header", _r("200 OK", "Content-Encoding: gzip", "Content-Length: 2", body=b"zz"),
     True),
    # outside the subset: llhttp decides
    ("no reason, no space", b"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", False),
    ("204", _r("204 No Content"), False),
    ("304 with length", _r("304 Not Modified", "Content-Length: 5"), False),
    ("chunked", _r("200 OK", "Transfer-Encoding: chunked", body=b"3\r\nabc\r\n0\r\n\r\n"), False),
    ("length and chunked", _r("200 OK", "Content-Length: 3", "Transfer-Encoding: chunked",
                              body=b"3\r\nabc\r\n0\r\n\r\n"), False),
    ("no length", _r("200 OK", "Content-Type: text/plain", body=b"until eof"), False),
    ("extra bytes", _r("200 OK", "Content-Length: 1", body=b"xHTTP/1.1 200 OK\r\n"), False),
    ("short body", _r("200 OK", "Content-Length: 10", body=b"abc"), False),
    ("two lengths", _r("200 OK", "Content-Length: 1", "Content-Length: 1", body=b"x"), False),
    ("bad length", _r("200 OK", "Content-Length: 1a", body=b"x"), False),
    ("length with inner space", _r("200 OK", "Content-Length: 1 0", body=b"x" * 10), False),
    ("16 digits", _r("200 OK", "Content-Length: 0000000000000001", body=b"x"), False),
    ("obs-fold", _r("200 OK", "X-A: one", "  two", "Content-Length: 1", body=b"x"), False),
    ("space before colon", _r("200 OK", "X-A : one", "Content-Length: 1", body=b"x"), False),
    ("100 then 200", _r("100 Continue") + _r("200 OK", "Content-Length: 1", body=b"x"), False),
    ("101", _r("101 Switching Protocols", "Connection: upgrade", "Upgrade: websocket"), False),
    ("connection upgrade", _r("200 OK", "Connection: upgrade", "Content-Length: 1", body=b"x"),
     False),
    ("connection list", _r("200 OK", "Connection: keep-alive, close", "Content-Length: 1",
                           body=b"x"), False),
    ("two connections", _r("200 OK", "Connection: close", "Connection: close",
                           "Content-Length: 1", body=b"x"), False),
    ("proxy-connection", _r("200 OK", "Proxy-Connection: close", "Content-Length: 1",
                            body=b"x"), False),
    ("upgrade header", _r("200 OK", "Upgrade: h2c", "Content-Length: 1", body=b"x"), False),
    ("bare LF", b"HTTP/1.1 200 OK\nContent-Length: 1\n\nx", False),
    ("LF in a value", b"HTTP/1.1 200 OK\r\nX-A: a\nb\r\nContent-Length: 1\r\n\r\nx", False),
    ("obs-text", _r("200 OK", "X-A: caf\u00e9", "Content-Length: 1", body=b"x"), False),
    ("NUL in a value", _r("200 OK", "X-A: a\x00b", "Content-Length: 1", body=b"x"), False),
    ("HTTP/1.2", _r("200 OK", "Content-Length: 1", body=b"x", version="1.2"), False),
    ("HTTP/2.0", _r("200 OK", "Content-Length: 1", body=b"x", version="2.0"), False),
    ("status 600", _r("600 Odd", "Content-Length: 1", body=b"x"), False),
    ("status 1xx only", _r("103 Early Hints", "Link: </a>"), False),
    ("not http", b"SSH-2.0-OpenSSH_9.2\r\n\r\n", False),
    ("empty", b"", False),
]

# the fields compared (t_first / t_end are clocks; loop, parser, timer are objects)
COMPARED = ("closed", "used", "proto", "paused", "busy", "done", "is_head", "head_stop",
            "status", "head", "hbuf", "body", "blen", "nrecv", "keep", "err_code", "err_msg",
            "n1xx", "cap", "keep_body")


class _Transport:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def close(self) -> None:
        self.calls.append("close")

    def abort(self) -> None:
        self.calls.append("abort")

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


class _Writer(_Transport):
    """A transport that records writes; `fail` makes write raise as uvloop's closed one
    does, `pause` makes it pause the protocol as a full buffer does."""

    def __init__(self, conn: Any, *, fail: bool = False, pause: bool = False) -> None:
        super().__init__()
        self.conn, self.fail, self.pause, self.written = conn, fail, pause, b""

    def write(self, data: bytes) -> None:
        if self.fail:
            raise RuntimeError("unable to perform operation on <TCPTransport closed=True>")
        self.written += data
        if self.pause:
            self.conn.pause_writing()


class _SpyParser:
    """Counts the reads that reached llhttp; everything else goes to the real parser."""

    def __init__(self, parser: Any) -> None:
        self.real, self.fed = parser, 0

    def feed_data(self, data: bytes) -> None:
        self.fed += 1
        self.real.feed_data(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _conn(cls: Any, loop: asyncio.AbstractEventLoop, *, cap: int | None = None,
          keep_body: bool = True) -> Any:
    c = cls(loop, ("http", "127.0.0.1", 1), cap=cap, keep_body=keep_body)
    c.transport = _Transport()
    return c


def _state(c: Any, fut: asyncio.Future[None]) -> dict[str, Any]:
    out = {name: getattr(c, name) for name in COMPARED}
    if isinstance(out["body"], bytearray):
        out["body"] = bytes(out["body"])
    out["fut"] = fut.done()
    out["transport"] = list(c.transport.calls)
    out["clocks"] = (c.t_first > 0, c.t_end > 0)
    return out


def _exchange(c: Any, loop: asyncio.AbstractEventLoop, pieces: list[bytes],
              is_head: bool = False) -> tuple[dict[str, Any], int]:
    fut = loop.create_future()
    c.begin(fut, is_head, loop.time() + 60)
    spy = c.parser = _SpyParser(c.parser)
    for piece in pieces:
        c.data_received(piece)
    c.parser = spy.real
    return _state(c, fut), spy.fed


def _both(pieces: list[bytes], **kw: Any) -> tuple[dict[str, Any], dict[str, Any], int]:
    loop = asyncio.new_event_loop()
    try:
        built, fed = _exchange(_conn(Conn, loop, **kw), loop, pieces)
        pure, _ = _exchange(_conn(PyConn, loop, **kw), loop, pieces)
    finally:
        loop.close()
    return built, pure, fed


needs_c = pytest.mark.skipif(conn_core.IMPLEMENTATION != "c",
                             reason="the C core is not built or not in use here")


@pytest.mark.parametrize(("name", "data", "plain"), CORPUS, ids=[c[0] for c in CORPUS])
def test_whole_response_same_as_python(name: str, data: bytes, plain: bool) -> None:
    built, pure, fed = _both([data])
    assert built == pure
    if conn_core.IMPLEMENTATION == "c" and plain:
        assert fed == 0, "a plain response went to llhttp: the C path did not take it"
        assert built["done"] and not built["busy"]
    elif data:
        assert fed == 1  # llhttp saw it, once, as with the Python core


@pytest.mark.parametrize(("name", "data", "plain"), CORPUS, ids=[c[0] for c in CORPUS])
def test_split_response_same_as_python(name: str, data: bytes, plain: bool) -> None:
    for cut in sorted({1, 12, len(data) // 2, len(data) - 1}):
        if 0 < cut < len(data):
            built, pure, _ = _both([data[:cut], data[cut:]])
            assert built == pure, f"cut at {cut}"


def test_mutated_responses_same_as_python() -> None:
    """Seeded fuzz: a plain response with one to three bytes replaced (by bytes that matter
    to a parser: separators, case, digits, controls, obs-text) must come out the same."""
    rng = random.Random(13)
    alphabet = b"\r\n :\t0129aAzZ-\x00\x7f\x80\xff,"
    base = [NGINX, _r("200 OK", "Content-Length: 2", "Connection: close", body=b"ok",
                      version="1.0")]
    for i in range(1500):
        data = bytearray(base[i % 2])
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.choice(alphabet)
        built, pure, _ = _both([bytes(data)])
        assert built == pure, bytes(data)


@needs_c
def test_plain_says_no_cookie_and_no_encoding_came() -> None:
    """`plain` lets the transport skip decoding and the client skip its Set-Cookie search:
    it may be True only for a C-parsed response with neither header, and every request
    starts False."""
    loop = asyncio.new_event_loop()
    try:
        c = _conn(Conn, loop)
        for data, plain in [
            (NGINX, True),
            (_r("200 OK", "set-COOKIE: a=1", "Content-Length: 1", body=b"x"), False),
            (_r("200 OK", "Content-Encoding: gzip", "Content-Length: 1", body=b"x"), False),
            (_r("200 OK", "X-Set-Cookie: a=1", "Content-Length: 1", body=b"x"), True),
            (_r("200 OK", "Transfer-Encoding: chunked", body=b"1\r\nx\r\n0\r\n\r\n"), False),
            (NGINX, True),
        ]:
            _exchange(c, loop, [data])
            assert c.plain is plain, data
        c.begin(loop.create_future(), False, loop.time() + 60)
        assert c.plain is False
        c.abort()
    finally:
        loop.close()


def test_discarded_body_and_cap_same_as_python() -> None:
    for kw in ({"keep_body": False}, {"cap": 11}, {"cap": 12}, {"cap": 0}):
        built, pure, _ = _both([NGINX], **kw)
        assert built == pure, kw
    built, _, _ = _both([NGINX], cap=11)
    assert built["err_code"] and built["transport"][0] == "abort"  # over the cap: failed


def test_keep_alive_sequence_same_as_python() -> None:
    """Several requests on one connection, a HEAD among them (its own parser), then bytes
    nobody asked for."""
    steps: list[tuple[list[bytes], bool]] = [
        ([NGINX], False),
        ([_r("200 OK", "Content-Length: 5")], True),  # HEAD: headers only
        ([NGINX[:20], NGINX[20:]], False),
        ([NGINX], False),
        ([_r("200 OK", "Transfer-Encoding: chunked", body=b"1\r\nx\r\n0\r\n\r\n")], False),
        ([NGINX], False),
    ]
    loop = asyncio.new_event_loop()
    try:
        a, b = _conn(Conn, loop), _conn(PyConn, loop)
        for pieces, is_head in steps:
            assert _exchange(a, loop, pieces, is_head)[0] == _exchange(b, loop, pieces,
                                                                      is_head)[0]
        a.data_received(NGINX)  # not busy: out of step, closed
        b.data_received(NGINX)
        assert a.closed and b.closed and a.transport.calls == b.transport.calls
    finally:
        loop.close()


def test_future_already_done_is_left_alone() -> None:
    """A sender that gave up (cancelled future) must not make the read raise."""
    loop = asyncio.new_event_loop()
    try:
        for cls in (Conn, PyConn):
            c = _conn(cls, loop)
            fut = loop.create_future()
            c.begin(fut, False, loop.time() + 60)
            fut.cancel()
            c.data_received(NGINX)
            assert c.done and c.status == 200 and fut.cancelled()
    finally:
        loop.close()


@pytest.mark.parametrize("how", ["plain", "paused", "closed"])
def test_send_same_as_python(how: str) -> None:
    """send(): a fresh future, the per-request reset, the write, and the sent time (0
    while paused; a write on a closed transport fails the request with k6's EOF)."""
    loop = asyncio.new_event_loop()
    try:
        states = []
        for cls in (Conn, PyConn):
            c = _conn(cls, loop)
            c.transport = _Writer(c, fail=how == "closed", pause=how == "paused")
            fut = c.send(b"GET / HTTP/1.1\r\n\r\n", False, loop.time() + 60, None)
            assert isinstance(fut, asyncio.Future) and fut is c.fut
            state = _state(c, fut)
            state["written"] = c.transport.written
            state["t_sent"] = c.t_sent > 0
            states.append(state)
            c.abort()
        assert states[0] == states[1]
        assert states[0]["t_sent"] is (how != "paused")
        assert states[0]["cap"] == sys.maxsize  # None: no cap
        if how == "closed":
            assert states[0]["err_code"] == 1000 and states[0]["fut"]  # EOF, woken
    finally:
        loop.close()


def test_timings_same_as_python() -> None:
    loop = asyncio.new_event_loop()
    try:
        got = []
        for cls in (Conn, PyConn):
            c = _conn(cls, loop)
            c.t_first, c.t_end = 1_700_000_000_123_456_789, 1_700_000_000_123_999_999
            for t_sent in (1_700_000_000_100_000_001, 0):  # 0: never noted, counts from first
                c.t_sent = t_sent
                t0 = 1_699_999_999_999_000_000
                got.append(c.timings(t0, t0 + 1, t0 + 12_345, 7, 0))
                got.append(c.timings(t0, t0, t0, 0, 0))
        n = len(got) // 2
        assert got[:n] == got[n:]
        assert all(type(t) is Timings for t in got)
        assert got[1].blocked == 0.0 and got[1].sending == pytest.approx(101.000001)
        assert got[2].sending == pytest.approx(124.444444) and got[2].waiting == 0.0
    finally:
        loop.close()


@needs_c
def test_begin_rearms_the_timer_only_when_needed() -> None:
    loop = asyncio.new_event_loop()
    try:
        c = _conn(Conn, loop)
        c.begin(loop.create_future(), False, loop.time() + 60)
        first = c.timer
        assert first is not None and c.timer_at == c.deadline
        c.begin(loop.create_future(), False, loop.time() + 90)  # later: the timer stays
        assert c.timer is first
        c.begin(loop.create_future(), False, loop.time() + 1)  # sooner: re-armed
        assert c.timer is not first and c.timer_at == c.deadline
        c.abort()
    finally:
        loop.close()


@needs_c
def test_the_c_core_has_the_python_core_fields() -> None:
    """conn_core.FIELDS (PyCore's slots) and the C type's members are one list."""
    from loadgen.net import _conn  # type: ignore[attr-defined]
    members = {name for name, v in vars(_conn.Core).items()
               if type(v).__name__ == "member_descriptor"}
    assert members == set(conn_core.FIELDS)
    assert {"begin", "send", "timings", "data_received"} <= set(vars(_conn.Core))


def test_conn_core_built_where_a_compiler_is() -> None:
    """`pip install` built the C core when it could (a silently skipped build would leave
    every run on the slower path with nothing saying so)."""
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not (headers.exists() and (which("cc") or which("gcc"))):
        pytest.skip("no C compiler or no Python headers here: the Python core is expected")
    if os.environ.get("LOADGEN_NO_EXTENSIONS", "") not in ("", "0"):
        assert conn_core.IMPLEMENTATION == "python"
        return
    assert conn_core.IMPLEMENTATION == "c"


def test_many_responses_leave_nothing_behind() -> None:
    """Reference counting in the C paths: 20,000 requests and responses on one connection
    (fresh future, send, whole response, timings, the headers object, as the transport
    runs them) keep no memory (tracemalloc sees every Python object's allocation, those
    made in C included; one extra reference on the head per response keeps 3.5 MB)."""
    loop = asyncio.new_event_loop()
    try:
        c = _conn(Conn, loop)
        c.transport = _Writer(c)

        def cycle(n: int) -> None:
            for _ in range(n):
                c.send(b"GET / HTTP/1.1\r\n\r\n", False, 1e9, None)
                c.data_received(NGINX)
                c.timings(1, 1, 1, 0, 0)
                make_raw_headers(c.head, None, False, not c.plain)
                c.transport.written = b""

        cycle(1000)  # warm: caches, free lists
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            cycle(20_000)
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert grown < 20_000, f"{grown} bytes kept by 20,000 responses"
        assert c.status == 200 and c.done and c.body == b"hello world\n"
        c.abort()
    finally:
        loop.close()
