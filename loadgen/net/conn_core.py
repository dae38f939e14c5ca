"""The fields of a fast-transport connection and its per-request methods, in C or in
Python: `Core`, the base class of fast_conn.Conn (`begin` and `send` start a request,
`data_received` reads its response, `timings` measures it once it ended).

- C (`_conn.c`, built by `pip install` where a compiler and Python's headers exist): the
  fields are the type's own members, and `data_received` answers a response that arrived
  whole in one read (status line, plain headers, a Content-Length body) without llhttp's
  callbacks; anything else it hands to the connection's `_receive`, the Python path.
- Python (`PyCore`): the same fields as __slots__; every read goes to `_receive`.

Why: handling the common response took three Python frames (data_received, then
httptools' on_body and on_message_complete) and ~160 bytecodes, about a seventh of an HTTP
iteration's instructions (benchmarks/bench_instructions.py). The C path stores exactly
what the Python one stores (tests/net/test_conn_core.py runs both on a corpus of
responses), so everything above the connection reads the same fields either way.

LOADGEN_NO_EXTENSIONS=1 (read at import) forces the Python core; `IMPLEMENTATION` says
which is in use.
"""

from __future__ import annotations

import asyncio
import sys
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any

from loadgen import extensions
from loadgen.net import limits
from loadgen.net.types import Timings, make_timings

#: a head shorter than this cannot hold more than MAX_HEADERS lines ("a:" CRLF is 4 bytes),
#: so only longer ones are counted: the common response pays one length test
COUNT_FROM = 4 * limits.MAX_HEADERS
_NO_CAP = sys.maxsize  # a request's body cap when it has none

FIELDS = (
    "loop", "key", "transport", "parser", "closed", "used", "proto", "tls_version",
    "paused", "busy", "done", "is_head", "head_stop", "fut", "status", "head", "hbuf",
    "body", "blen", "nrecv", "keep", "t_sent", "t_first", "t_end", "err_code", "err_msg",
    "deadline", "timer", "timer_at", "cap", "keep_body", "n1xx", "plain",
)


class PyCore:
    """The Python core: the connection's fields, `begin`, `send` and `timings`. The
    subclass provides `_new_parser(is_head)`, `_arm(when)` and `_write_failed()`, which
    they call in the rare cases."""

    __slots__ = FIELDS

    # what the subclass sets in __init__ (declared for the type checker)
    loop: asyncio.AbstractEventLoop
    key: tuple[str, str, int]
    transport: Any
    parser: Any
    closed: bool
    used: bool
    proto: str
    tls_version: str
    paused: bool
    busy: bool
    done: bool
    is_head: bool
    head_stop: bool
    fut: asyncio.Future[None] | None
    status: int
    head: bytes | None
    hbuf: bytes
    body: bytes | bytearray | None
    blen: int
    nrecv: int
    keep: bool
    t_sent: int
    t_first: int
    t_end: int
    err_code: int
    err_msg: str
    deadline: float
    timer: asyncio.TimerHandle | None
    timer_at: float
    cap: int
    keep_body: bool
    n1xx: int
    #: set by the C path only: the response came whole and plain, with no Content-Encoding
    #: and no Set-Cookie header (its body is bytes; nothing to decode, no cookie to read)
    plain: bool

    def begin(self, fut: asyncio.Future[None], is_head: bool, deadline: float) -> None:
        """Reset the per-request state; the caller then writes the request and awaits fut."""
        self.fut = fut
        self.busy = True
        self.done = False
        self.used = True
        self.head = None
        self.body = None
        self.blen = self.nrecv = 0
        self.t_first = 0
        self.err_code = 0
        self.n1xx = 0
        self.plain = False
        self.deadline = deadline
        if is_head or self.is_head:
            self._new_parser(is_head)
        if self.timer is None or deadline < self.timer_at:
            self._arm(deadline)

    def send(self, data: bytes, is_head: bool, deadline: float,
             cap: int | None) -> asyncio.Future[None]:
        """A new future, begin(), the request written and when it went out (0 while the
        transport's buffer is full: resume_writing notes it). The caller awaits the future."""
        self.cap = cap or _NO_CAP
        fut = self.loop.create_future()
        self.begin(fut, is_head, deadline)
        try:
            self.transport.write(data)
        except RuntimeError:  # closed under us (uvloop raises): like a stale close
            self._write_failed()
        self.t_sent = 0 if self.paused else perf_counter_ns()
        return fut

    def timings(self, t0: int, t_block: int, t_ready: int, connecting: int,
                tls: int) -> Timings:
        """The phases of the request that just ended, in ms: blocked from t0 (send()'s
        caller started) to t_block, then connecting and tls (ns), sending from t_ready
        (the connection was ready) to when the request went out, waiting until the first
        response byte, receiving until the end."""
        t_first = self.t_first
        t_sent = self.t_sent or t_first
        return make_timings(((t_block - t0) / 1e6, connecting / 1e6, tls / 1e6,
                             (t_sent - t_ready) / 1e6, (t_first - t_sent) / 1e6,
                             (self.t_end - t_first) / 1e6))

    def _new_parser(self, is_head: bool) -> None:
        raise NotImplementedError

    def _write_failed(self) -> None:
        raise NotImplementedError

    def _arm(self, when: float) -> None:
        raise NotImplementedError


def _load() -> type[PyCore]:
    built = extensions.load("loadgen.net._conn")
    if built is None:  # not built here (no compiler), or not wanted: the same, more slowly
        return PyCore
    built.set_count_from(COUNT_FROM)
    built.set_timings_type(Timings)
    core: type[PyCore] = built.Core
    return core


if TYPE_CHECKING:  # the C type has the same fields and methods
    Core = PyCore
else:
    Core = _load()
#: "c" or "python": which core fast_conn.Conn is built on
IMPLEMENTATION = "python" if Core is PyCore else "c"
