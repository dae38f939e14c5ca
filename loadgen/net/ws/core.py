"""A picows connection's per-message methods, in C or in Python: `Core`, the first base of
fast.FastConnection (`on_ws_frame` takes a frame from picows, `send_now` sends,
`recv_fast` is what `await session.recv()` awaits), and `SENT`, the finished awaitable
`session.send()` returns when it sent at once.

- C (`_core.c`, built by `pip install` where a compiler exists): a mixin without fields
  that reads the connection's __slots__ at offsets `bind` checked; `recv_fast` returns an
  awaitable that does what the coroutine `FastConnection.recv` does, without a frame.
- Python (`PyCore`): the same methods; `recv_fast` is that coroutine.

Why: a ping-pong message cost ~25,800 instructions of user space against ~15,000 for a bare
picows client awaiting a future per message (benchmarks/bench_ws.py --instructions); the
difference was Python frames around picows' C. Whatever is rare (fragments, pings, close
frames, text that is not UTF-8, any error decision) stays in Python either way, in the
same methods, so both cores behave alike (tests/ws/test_ws_core.py runs both).

LOADGEN_NO_EXTENSIONS=1 (read at import) forces the Python core; `IMPLEMENTATION` says
which is in use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from typing import TYPE_CHECKING, Any

from picows import WSCloseCode, WSMsgType
from picows.common import WSProtocolError

from loadgen import extensions

if TYPE_CHECKING:
    from picows import WSTransport

TEXT, BINARY = WSMsgType.TEXT, WSMsgType.BINARY


class PyCore:
    """The Python core. The subclass (FastConnection) provides the fields and the methods
    these call: `deliver`, `other_frame`, `_write` and `recv`."""

    __slots__ = ()

    if TYPE_CHECKING:  # what the subclass has (not defined here: it would shadow them)
        t: Any
        parts: list[bytes] | None
        write_paused: bool
        close_code: int | None

        @property
        def n_in(self) -> int: ...
        @n_in.setter
        def n_in(self, v: int) -> None: ...
        @property
        def n_out(self) -> int: ...
        @n_out.setter
        def n_out(self, v: int) -> None: ...

        def deliver(self, msg: str | bytes) -> None: ...

        def other_frame(self, transport: WSTransport, frame: Any, mt: Any, n: int) -> None: ...

        def _write(self, message: str | bytes | bytearray | memoryview) -> None: ...

        async def recv(self) -> str | bytes: ...

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        mt = frame.msg_type
        if (mt is TEXT or mt is BINARY) and frame.fin and self.parts is None:  # most frames
            n = frame.payload_size
            if mt is TEXT:
                try:
                    msg: str | bytes = frame.get_payload_as_utf8_text()
                except UnicodeDecodeError:
                    raise WSProtocolError(WSCloseCode.INVALID_TEXT,
                                          "invalid UTF-8 in a text message") from None
            else:
                msg = frame.get_payload_as_bytes()
            self.n_in += n + (2 if n < 126 else 4 if n < 65536 else 10)
            self.deliver(msg)
        else:
            self.other_frame(transport, frame, mt, frame.payload_size)

    def send_now(self, message: str | bytes | bytearray | memoryview) -> bool:
        """Send at once unless the write buffer is over `write_limit` (then: `await send`)."""
        t = self.t
        if (self.write_paused or t is None or self.close_code is not None
                or t.is_close_frame_sent or t.is_disconnected):
            return False
        if type(message) is str:  # the common case, inline (is_open, _write: per message)
            data = message.encode()
            t.send(TEXT, data)
            n = len(data)
            self.n_out += n + (6 if n < 126 else 8 if n < 65536 else 14)
        else:
            self._write(message)
        return True

    def recv_fast(self) -> Awaitable[str | bytes]:
        return self.recv()


class _Sent:
    """A finished awaitable (None), usable any number of times; with send/throw/close,
    so asyncio takes it for a coroutine as it does C's SENT."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]

    def send(self, value: object) -> None:
        raise StopIteration

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> None:
        raise typ if val is None else val

    def close(self) -> None:
        return None


_c = extensions.load("loadgen.net.ws._core")
SENT: Awaitable[None] = _c.SENT if _c is not None else _Sent()
if TYPE_CHECKING:  # the C type has the same methods
    Core = PyCore
else:
    Core = _c.Core if _c is not None else PyCore
IMPLEMENTATION = "c" if _c is not None else "python"


def bind(cls: Any) -> None:
    """Tell the C core which class it serves (its slot offsets). In Python, the class's
    recv_fast becomes its recv: one Python frame fewer per message."""
    if _c is not None:
        _c.bind(cls, TEXT, BINARY)
    else:
        setattr(cls, "recv_fast", cls.recv)  # noqa: B010
