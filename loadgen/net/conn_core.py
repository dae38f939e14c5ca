"""The fields of a fast-transport connection and its two per-request methods, in C or in
Python: `Core`, the base class of fast_conn.Conn.

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
from typing import TYPE_CHECKING, Any

from loadgen import extensions
from loadgen.net import limits

#: a head shorter than this cannot hold more than MAX_HEADERS lines ("a:" CRLF is 4 bytes),
#: so only longer ones are counted: the common response pays one length test
COUNT_FROM = 4 * limits.MAX_HEADERS

FIELDS = (
    "loop", "key", "transport", "parser", "closed", "used", "proto", "tls_version",
    "paused", "busy", "done", "is_head", "head_stop", "fut", "status", "head", "hbuf",
    "body", "blen", "nrecv", "keep", "t_sent", "t_first", "t_end", "err_code", "err_msg",
    "deadline", "timer", "timer_at", "cap", "keep_body", "n1xx", "plain",
)


class PyCore:
    """The Python core: the connection's fields and `begin`. The subclass provides
    `_new_parser(is_head)` and `_arm(when)`, which begin calls in the rare cases."""

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

    def _new_parser(self, is_head: bool) -> None:
        raise NotImplementedError

    def _arm(self, when: float) -> None:
        raise NotImplementedError


def _load() -> type[PyCore]:
    built = extensions.load("loadgen.net._conn")
    if built is None:  # not built here (no compiler), or not wanted: the same, more slowly
        return PyCore
    built.set_count_from(COUNT_FROM)
    core: type[PyCore] = built.Core
    return core


if TYPE_CHECKING:  # the C type has the same fields and methods
    Core = PyCore
else:
    Core = _load()
#: "c" or "python": which core fast_conn.Conn is built on
IMPLEMENTATION = "python" if Core is PyCore else "c"
